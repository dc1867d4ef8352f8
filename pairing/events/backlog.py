"""How far this process is behind in handing committed events to its sockets.

It is the load signal a new request is refused by (`requests.services`) before the
fan-out falls further behind: past its capacity a stack that keeps taking requests does
not slow down evenly, it makes every offer late. Two readings, both of this process:

- the dispatch thread's oldest job still waiting (this process's own changes, `dispatcher`);
- the age of the broadcast the process's hub is handing to its sockets (every process's
  changes, `realtime.hub`), while it is at it or has just been.

Both are local, so asking costs nothing: every web process hands every broadcast to its
own sockets, so each falls behind with the others.
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


def hub_seconds_behind() -> float:
    """How old the broadcast the hub is handing over is (0 when it is idle)."""
    with _lock:
        committed_at, ended = _pass_committed_at, _pass_ended
    if committed_at is None or (ended is not None and time.monotonic() - ended > IDLE_AFTER_SECONDS):
        return 0.0
    return max(0.0, time.time() - committed_at)


def seconds_behind() -> float:
    from .dispatcher import dispatcher

    return max(hub_seconds_behind(), dispatcher.oldest_wait())
