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

import threading
import time

# A hub that finished its last pass longer ago than this is idle: nothing waits.
IDLE_AFTER_SECONDS = 0.5

_lock = threading.Lock()
_pass_committed_at: float | None = None  # the broadcast being (or last) handed over: its commit time
_pass_ended: float | None = None  # monotonic time the last pass ended; None while one runs


def pass_started(committed_at: float | None) -> None:
    """The hub starts handing a broadcast committed at `committed_at` (epoch seconds) over."""
    global _pass_committed_at, _pass_ended
    if committed_at is None:
        return
    with _lock:
        _pass_committed_at, _pass_ended = committed_at, None


def pass_ended() -> None:
    global _pass_ended
    with _lock:
        _pass_ended = time.monotonic()


def seconds_behind() -> float:
    """How old the broadcast the hub is handing over is (0 when it is idle)."""
    with _lock:
        committed_at, ended = _pass_committed_at, _pass_ended
    if committed_at is None or (ended is not None and time.monotonic() - ended > IDLE_AFTER_SECONDS):
        return 0.0
    return max(0.0, time.time() - committed_at)
