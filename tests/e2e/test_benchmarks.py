"""Every `make bench` target runs, end to end, from this checkout, in its smallest form.

A benchmark a newcomer cannot run is a broken one (the dashboard's once crashed on a fresh
machine, and nothing noticed): each target starts its own stack as `make bench` does and
prints its table; the figures at this size mean nothing and are not checked.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.launcher import BASE_DIR

pytestmark = pytest.mark.e2e

TABLE_LINES = {
    "fanout": "mitras |",
    "resume": "resume / floor:",
    "http": "procs |",
    "dashboard": "target: 30-day page",
    "capacity": "project holds",
    "soak": "p99 last/first minute",
    "profile": "By own time:",
}


@pytest.mark.parametrize("target", ["fanout", "resume", "http", "dashboard", "capacity", "soak", "profile"])
def test_every_benchmark_runs_in_its_smallest_form(target):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", target],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    if target == "dashboard" and "skipped: no PostgreSQL" in output:
        pytest.skip("the dashboard benchmark needs PostgreSQL")
    if target == "profile" and "Profile skipped" in output:
        pytest.skip("py-spy is not installed")
    assert TABLE_LINES[target] in output, output[-4000:]
