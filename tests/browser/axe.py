"""axe-core (the engine behind the browsers' own accessibility audits) inside Playwright.

The script comes from the npm registry, pinned, installed once into a cache directory by
the ordinary npm client (which checks the package's integrity), and injected into the
page under test; nothing is fetched from a CDN while a page runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

AXE_VERSION = "4.10.3"
CACHE = Path(os.environ.get("AXE_CACHE_DIR", Path(__file__).resolve().parents[2] / ".run" / "axe-core"))
# WCAG 2.0 and 2.1, levels A and AA: the rules the issue asks for.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = {"serious", "critical"}


@cache
def axe_source() -> str:
    """The minified axe-core script, installed from the npm registry on first use."""
    target = CACHE / AXE_VERSION
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("axe-core is needed by the accessibility checks: install npm (apt-get install npm)")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(target), "--no-save", "--no-audit", "--no-fund", "--ignore-scripts",
             f"axe-core@{AXE_VERSION}"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return script.read_text()


def violations(page) -> list[dict]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({impact: n.impact, target: n.target.join(" "), html: n.html,
                                          summary: n.failureSummary})),
            }));
        }""",
        TAGS,
    )
    return [v for v in found if v["impact"] in FAILING]


def describe(found: list[dict]) -> str:
    """One line per failing element: the rule, its impact, the element and what is wrong."""
    lines = []
    for violation in found:
        for node in violation["nodes"]:
            summary = " ".join((node["summary"] or "").split())[:240]
            lines.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} — {node['target']} "
                f"{node['html'][:160]} — {summary}"
            )
    return "\n".join(lines)


def assert_accessible(page, what: str) -> None:
    found = violations(page)
    assert not found, f"axe-core on {what}:\n{describe(found)}"
