"""How a web process stops on SIGTERM (a deploy, a restart): gracefully.

It stops accepting connections, runs the apps' shutdown hooks (the pairing sockets close
with 1012, "service restart", and leave presence at once, so their mitras count as
offline and are pushed), lets in-flight HTTP requests finish for at most
`GRACEFUL_STOP_SECONDS`, then stops the reactor. Apps register hooks with `on_shutdown`;
`InFlightHTTP` wraps the ASGI app to count the requests under way.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
_hooks: list[Hook] = []


def on_shutdown(hook: Hook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


async def run_hooks() -> None:
    for outcome in await asyncio.gather(*(hook() for hook in _hooks), return_exceptions=True):
        if isinstance(outcome, BaseException):
            logger.warning("a shutdown hook failed", exc_info=outcome)


class InFlightHTTP:
    """ASGI middleware: how many HTTP requests this process is answering right now."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.count += 1
        self._idle.clear()
        try:
            return await self.app(scope, receive, send)
        finally:
            self.count -= 1
            if not self.count:
                self._idle.set()

    async def drained(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


in_flight: InFlightHTTP | None = None


def graceful_stop_seconds() -> float:
    return float(os.environ.get("GRACEFUL_STOP_SECONDS", "10"))


async def stop_gracefully() -> None:
    """Everything but stopping the reactor (the caller does that)."""
    await run_hooks()
    if in_flight is not None and not await in_flight.drained(graceful_stop_seconds()):
        logger.warning("stopping with %d HTTP requests still under way", in_flight.count)
