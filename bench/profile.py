"""Where a web process spends its time on the create and accept paths: py-spy samples
the one daphne of a stack while 20 customer/mitra pairs run create -> accept -> end
(the churn benchmark), then prints the functions with the most samples, by own time and,
for this project's code, with what they call.

`make bench ARGS=profile`; py-spy needs ptrace (root, or CAP_SYS_PTRACE in a container).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.fanout import make_accounts
from bench.web import CHURN_PAIRS, churn
from devtools.stack import BASE_DIR, Stack

SECONDS = 10
RATE = 250  # samples a second
SHOWN = 15


def _py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def _where(frame: str) -> str:
    """`function (path:line)` → `function (short path)`, without the line (merges a function's lines)."""
    name, _, place = frame.partition(" (")
    path = place.rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{BASE_DIR}/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def _ours(frame: str) -> bool:
    return any(f"({pkg}/" in frame for pkg in ("pairing", "activity", "common"))


def summarize(raw: str) -> tuple[int, Counter, Counter, dict[str, Counter]]:
    """(samples, own samples per function, inclusive samples per project function, and for
    each function the project function nearest to it on the stack: who made it wait or work)."""
    own, inclusive, total = Counter(), Counter(), 0
    callers: dict[str, Counter] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_where(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        ours = [frame for frame in frames if _ours(frame) and "daphne_server" not in frame]
        callers.setdefault(frames[-1], Counter())[ours[-1] if ours else "(server, event loop)"] += int(count)
        for frame in set(ours):
            inclusive[frame] += int(count)
    return total, own, inclusive, callers


def main() -> None:
    py_spy = _py_spy()
    if py_spy is None:
        print("Profile skipped: py-spy is not installed (pip install py-spy)")
        return
    with Stack(extra_env={"WEB_CONCURRENCY": "1"}) as stack, tempfile.TemporaryDirectory() as tmp:
        stack.manage("appconfig", "early_end_mitra_enabled=true", "early_end_mitra_daily_cap=1000")
        tokens = make_accounts(stack, CHURN_PAIRS, CHURN_PAIRS, "profile")
        (web,) = stack.pids("daphne")
        out = Path(tmp) / "samples.txt"
        recorder = subprocess.Popen(
            [py_spy, "record", "--format", "raw", "--rate", str(RATE), "--duration", str(SECONDS),
             "--pid", str(web), "--output", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        cycles, errors = asyncio.run(churn(stack, tokens))
        _, problem = recorder.communicate(timeout=60)
        if not out.exists():
            print(f"Profile failed: {problem.strip()}")
            return
        total, own, inclusive, callers = summarize(out.read_text())
    print(f"py-spy, one web process, churn of {CHURN_PAIRS} pairs ({cycles:.1f} cycles/s, {errors} 5xx): "
          f"{total} samples at {RATE}/s")  # fmt: skip
    print("\nBy own time:")
    for frame, count in own.most_common(SHOWN):
        ((caller, _),) = callers[frame].most_common(1)
        print(f"{100 * count / total:6.1f}%  {frame}  <- mostly {caller}")
    print("\nThis project's functions, with what they call:")
    for frame, count in inclusive.most_common(SHOWN):
        print(f"{100 * count / total:6.1f}%  {frame}")
