"""daphne as every web process runs it: `python -m common.daphne_server [daphne's arguments]`.

daphne's own command line, with tokens masked in its access log and (unless
`EAGER_WRITES=0`) a socket's first write of a reactor turn sent at once.
"""

from __future__ import annotations

import os
import sys

from daphne import cli

from .thirdparty import daphne_access_log, twisted_writes


def eager_writes_enabled() -> bool:
    return os.environ.get("EAGER_WRITES", "1").strip().lower() not in ("0", "false", "no", "off")


def main() -> None:
    daphne_access_log.install()
    if eager_writes_enabled():
        twisted_writes.install()
    sys.argv[0] = "daphne"
    cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
