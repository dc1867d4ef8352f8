"""How far this process is behind in handing committed events to its sockets.

It is the load signal a new request is refused by (`requests.services`) before the
fan-out falls further behind: past its capacity a stack that keeps taking requests does
not slow down evenly, it makes every offer late. The reading is the age of the broadcast
the process's hub is handing to its sockets, while it is at it or has just been. It is
local, so asking costs nothing: every web process hands every broadcast to its own
sockets, in the same order, so each falls behind with the others.

It is not a fault signal: with Redis hung no broadcast is passed (the hub is idle, and the
REST API goes on taking requests, whose events the sockets catch up from the outbox), and
a broadcast the relay hands over again after a fault is old for that reason, not load.
"""

from __future__ import annotations

import asyncio
import threading
import time

# A hub that finished its last pass longer ago than this is idle: nothing waits.
IDLE_AFTER_SECONDS = 0.5

_lock = threading.Lock()
# Per event loop (a web process runs one): the commit time of the broadcast being (or last)
# handed over, and when that pass ended (None while it runs).
_passes: dict[asyncio.AbstractEventLoop, tuple[float, float | None]] = {}


def pass_started(committed_at: float | None) -> None:
    """This loop's hub starts handing a broadcast committed at `committed_at` (epoch
    seconds) over; None for one whose age is not load."""
    loop = asyncio.get_running_loop()
    with _lock:
        if committed_at is None:
            _passes.pop(loop, None)
        else:
            _passes[loop] = (committed_at, None)


def pass_ended() -> None:
    loop = asyncio.get_running_loop()
    with _lock:
        if loop in _passes:
            _passes[loop] = (_passes[loop][0], time.monotonic())


def seconds_behind() -> float:
    """How old the broadcast a hub is handing over is (0 when every hub is idle). A loop
    that no longer runs (a test's, a stopped process's) has no hub to be behind."""
    now, monotonic = time.time(), time.monotonic()
    behind = 0.0
    with _lock:
        for loop, (committed_at, ended) in list(_passes.items()):
            if loop.is_closed():
                del _passes[loop]
            elif ended is None or monotonic - ended <= IDLE_AFTER_SECONDS:
                behind = max(behind, now - committed_at)
    return behind
