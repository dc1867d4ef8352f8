"""The house rules of the code, checked on every run (`make test-fast` included):

- no import cycle between modules, counting imports inside functions too, over every
  top-level package of the repository (the tests' own included);
- no cycle between pairing's rooms: its domains (accounts, requests, sessions, push,
  realtime, events) and its top-level modules (lifecycle, locking, errors, ...), each
  a room of its own, so a shared module that imports a domain back is seen;
- no app imports the project shell `halobestie`, and `common` imports no app.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = tuple(sorted(path.parent.name for path in ROOT.glob("*/__init__.py")))
APPS = ("common", "pairing", "activity", "appconfig")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the first-party modules it imports (resolved to modules that exist)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(f"{target}."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles_between_modules():
    assert find_cycle(import_graph()) is None


def test_no_cycles_between_pairing_domains():
    domains: dict[str, set[str]] = defaultdict(set)

    def domain(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if parts[0] == "pairing" and len(parts) > 1 else None

    for source, targets in import_graph().items():
        for target in targets:
            if domain(source) and domain(target) and domain(source) != domain(target):
                domains[domain(source)].add(domain(target))
    assert find_cycle(domains) is None, dict(domains)


def test_apps_do_not_import_the_project_shell_and_common_imports_no_app():
    wrong = []
    for source, targets in import_graph().items():
        top = source.split(".")[0]
        for target in targets:
            target_top = target.split(".")[0]
            if top in APPS and target_top == "halobestie":
                wrong.append((source, target))
            if top == "common" and target_top in APPS and target_top != "common":
                wrong.append((source, target))
    assert wrong == []


def test_every_top_level_package_is_seen():
    assert {"halobestie", "common", "pairing", "activity", "appconfig", "devtools", "bench", "tests"} <= set(PACKAGES)
    graph = import_graph()
    assert "bench.views" in graph["halobestie.urls"]  # the benchmark's route, imported by the project shell


def test_the_check_sees_a_cycle_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    graph = import_graph()
    assert "pairing.lifecycle" in graph["pairing.requests.services"]  # relative imports resolve
    assert "common.errors" in graph["pairing.errors"]
