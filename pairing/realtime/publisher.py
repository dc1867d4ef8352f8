"""Publishing from sync code: request threads and Celery tasks, after a change commits.

In a web process the sends run on the loop of its sockets: the broadcast leaves for Redis
(the other processes), and this process's sockets get it in the same step, without
waiting for Redis to bring it back (hub.deliver_here). Elsewhere (a Celery worker, a
process with no socket) they run on an event loop of the publisher's own, kept on a
daemon thread, so the process holds one Redis connection for them.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

from ..events.bus import Event
from . import delivery, hub

PUBLISH_TIMEOUT_SECONDS = 2

Sends = list[tuple[str, dict[str, Any]]]


async def _send(sends: Sends) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, msg) for group, msg in sends))


async def _send_and_deliver_here(sends: Sends) -> None:
    """Publish, then hand the broadcasts to this loop's sockets: Redis has passed a broadcast
    to the other processes when its PUBLISH answers, so every process's pass starts at about
    the same time. The other sends (the staff nudge) are not waited for before the pass.
    This loop's sockets get the broadcasts even when Redis is down (the relay publishes them
    later)."""
    layer = get_channel_layer()
    broadcasts = [msg for group, msg in sends if group == delivery.EVERYONE_GROUP]
    for msg in broadcasts:
        hub.expect_echo(msg)
    sending = [(group, asyncio.ensure_future(layer.group_send(group, msg))) for group, msg in sends]  # in order
    try:
        await asyncio.gather(*(task for group, task in sending if group == delivery.EVERYONE_GROUP))
    finally:
        for msg in broadcasts:
            await hub.deliver_here(msg)
        await asyncio.gather(*(task for _, task in sending))


class _Publisher:
    """The sync side's way onto an event loop: the sockets' loop in a web process, else an
    event loop on a daemon thread, one per process (re-made after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="event-publisher", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def publish(self, sends: Sends) -> None:
        if not sends:
            return
        sockets_loop = hub.serving_loop()
        if sockets_loop is not None:
            future = asyncio.run_coroutine_threadsafe(_send_and_deliver_here(sends), sockets_loop)
        else:
            future = asyncio.run_coroutine_threadsafe(_send(sends), self._own_loop())
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


_publisher = _Publisher()


def publish(event: Event) -> None:
    """The sockets' subscriber to committed events."""
    _publisher.publish(delivery.sends_for(event))


def tell_staff(what: str, user_ids: tuple[int, ...]) -> None:
    """The staff live views' watcher of committed changes."""
    _publisher.publish([(delivery.STAFF_GROUP, delivery.staff_message(what, user_ids))])
