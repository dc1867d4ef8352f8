"""Committed events handed to their subscribers off the caller's thread.

A change's answer must never wait on a slow Redis: after commit, the events go to this
process's dispatch thread, and the caller waits for them at most
`EVENTS_DISPATCH_WAIT_SECONDS`. Normally the subscribers finish well within that (so an
answer still leaves after its events are on their way, as a client would expect); with
Redis hung, the answer leaves at the bound and the thread goes on trying. Whatever it
cannot hand over is left undispatched in the outbox, for the relay, and sockets of this
process catch up from the outbox by themselves meanwhile.

One thread per process keeps the process's events in commit order. It is a daemon
thread, re-made after a fork, with its own database connection.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

Job = tuple[Callable[[], None], Future]


class Dispatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Job] | None = None
        self._pid = 0

    def _queue(self) -> queue.SimpleQueue[Job]:
        with self._lock:
            if self._jobs is None or self._pid != os.getpid():
                self._jobs, self._pid = queue.SimpleQueue(), os.getpid()
                threading.Thread(target=self._run, args=(self._jobs,), name="event-dispatch", daemon=True).start()
            return self._jobs

    def run(self, job: Callable[[], None]) -> bool:
        """Run `job` on the dispatch thread; wait for it at most the configured bound.
        True if it finished in time (its own failures are its own to log)."""
        done: Future = Future()
        context = contextvars.copy_context()  # the caller's request id and user, for the logs and queued tasks
        self._queue().put((lambda: context.run(job), done))
        try:
            done.result(timeout=settings.EVENTS_DISPATCH_WAIT_SECONDS)
        except FutureTimeout:
            logger.warning("event dispatch still running after %ss: answering without it",
                           settings.EVENTS_DISPATCH_WAIT_SECONDS)  # fmt: skip
            return False
        return True

    @staticmethod
    def _run(jobs: queue.SimpleQueue[Job]) -> None:
        while True:
            job, done = jobs.get()
            close_old_connections()  # a connection broken meanwhile is replaced, not reused
            try:
                job()
            except Exception:
                logger.exception("event dispatch failed")
            finally:
                done.set_result(None)
                close_old_connections()


dispatcher = Dispatcher()
