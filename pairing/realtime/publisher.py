"""Publishing from sync code: request threads and Celery tasks, after a change commits.

Every process publishes on an event loop of the publisher's own, kept on a daemon thread
(one Redis connection per process for it), and every process's hub, this one's too, hands
broadcasts to its sockets in the order Redis passes them on. One order for every process
is what keeps a busy stack steady: a process that served its own changes first would see
the other processes' changes overtake them at its sockets, and each overtaking costs every
socket a wait. The publish never waits for the sockets' loop, however busy it is.

When Redis does not take a broadcast, this process's sockets get it at once anyway
(`hub.deliver_here`); the other processes' sockets catch up from the outbox, and the
relay publishes it again later.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

from ..events.bus import Event
from . import delivery, hub

# A backstop only: a hung Redis fails the publish sooner (the layer's socket timeout).
PUBLISH_TIMEOUT_SECONDS = 2

Sends = list[tuple[str, dict[str, Any]]]


async def _send(sends: Sends) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, msg) for group, msg in sends))


class _Publisher:
    """The sync side's way onto an event loop: one on a daemon thread, one per process
    (re-made after a fork)."""

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
        try:
            asyncio.run_coroutine_threadsafe(_send(sends), self._own_loop()).result(timeout=PUBLISH_TIMEOUT_SECONDS)
        except Exception:
            _deliver_here_anyway(sends)
            raise


def _deliver_here_anyway(sends: Sends) -> None:
    """Redis did not take the sends: this process's sockets get its broadcasts now (a copy
    Redis took after all comes back later, and each socket drops what it already sent)."""
    sockets_loop = hub.serving_loop()
    if sockets_loop is None:
        return
    for group, msg in sends:
        if group == delivery.EVERYONE_GROUP:
            asyncio.run_coroutine_threadsafe(hub.deliver_here(msg), sockets_loop)


_publisher = _Publisher()


def publish(event: Event) -> None:
    """The sockets' subscriber to committed events."""
    _publisher.publish(delivery.sends_for(event))


def tell_staff(what: str, user_ids: tuple[int, ...]) -> None:
    """The staff live views' watcher of committed changes."""
    _publisher.publish([(delivery.STAFF_GROUP, delivery.staff_message(what, user_ids))])
