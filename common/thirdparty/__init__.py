"""Every place the project reaches into a library's internals, one module per library.

Each module names the versions its code was read against and checks them when it is
installed (at process start): an upgrade that may have moved an internal fails loudly
there, instead of silently changing behaviour. To upgrade such a library, read the
internals the module names in the new version, then add the version to its list.
"""

from __future__ import annotations

from importlib.metadata import version


class UnknownLibraryVersion(RuntimeError):
    pass


def require_version(distribution: str, known: tuple[str, ...], why: str) -> None:
    """Refuse to start with a version of `distribution` whose internals were not read."""
    installed = version(distribution)
    if installed not in known:
        raise UnknownLibraryVersion(
            f"{distribution} {installed} is installed, but {why} was written against {', '.join(known)}: "
            f"read the internals it uses in {distribution} {installed}, then add the version to its list"
        )
