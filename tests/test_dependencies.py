"""Every package the project runs on is pinned: requirements.txt names what the project
uses, constraints.txt pins it and everything it pulls in (Twisted, under daphne, included)."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[_canonical(requirement.name)] = str(requirement.specifier)
    return pins


def _installed_closure(names: list[str]) -> set[str]:
    """The named distributions and everything they require, as installed here."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def _requirements() -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]


def test_every_direct_requirement_is_pinned_exactly():
    loose = [line for line in _requirements() if "==" not in line]
    assert loose == []


def test_every_transitive_dependency_is_pinned_in_constraints():
    constraints = _pins(ROOT / "constraints.txt")
    wanted = _installed_closure([Requirement(line).name for line in _requirements()])
    unpinned = sorted(name for name in wanted if name not in constraints)
    assert unpinned == [], "add these to constraints.txt (pip freeze shows their versions)"
    assert constraints["twisted"].startswith("==")


def test_constraints_agree_with_requirements_and_the_environment():
    constraints = _pins(ROOT / "constraints.txt")
    for line in _requirements():
        requirement = Requirement(line)
        assert constraints[_canonical(requirement.name)] == str(requirement.specifier), requirement.name
    for name, specifier in constraints.items():
        installed = distribution(name).version
        assert specifier == f"=={installed}", f"{name}: constraints say {specifier}, {installed} is installed"
