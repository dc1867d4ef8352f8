"""The alert rules (ops/prometheus/alerts.yml) are valid and pass their promtool unit
tests, and every alert has at least one test."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)"
)


def alert_names(text: str) -> set[str]:
    return set(re.findall(r"^\s*-?\s*alert:\s*(\S+)", text, re.M))


@needs_promtool
def test_rules_are_valid():
    result = subprocess.run([PROMTOOL, "check", "rules", "alerts.yml"], cwd=RULES_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rules_pass_their_unit_tests():
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=RULES_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested():
    alerts = alert_names((RULES_DIR / "alerts.yml").read_text())
    tested = set(re.findall(r"alertname:\s*(\S+)", (RULES_DIR / "alerts_test.yml").read_text()))
    assert alerts, "no alert found in alerts.yml"
    assert alerts - tested == set()
