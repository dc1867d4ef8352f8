"""Each process's sockets, served together: one layer subscription and one query per
tick for all of them, not one per socket.

Broadcast events (a fan-out to many mitras) reach the process once, on the hub's own
channel in the `everyone` group, and are handed to every socket here in one pass: one
message to decode instead of one per socket, and no per-socket consumer wake-up. A
socket with nothing in flight sends at once; one busy filling a gap gets it in a task of
its own, so it never holds up the others.

A broadcast published by this process (a request thread of the same daphne) is handed to
its sockets on their loop once Redis has taken it for the other processes (`deliver_here`);
the copy Redis brings back is skipped. The pass then runs while the request thread waits,
instead of competing with it for the GIL (at 200 mitras the publishing process's pass took
twice the others'), and this process's sockets get the broadcast even with Redis down.

Every CATCH_UP_SECONDS the hub reads the latest `seq` of every user with a socket in
this process. A socket still behind at two ticks in a row missed something (Redis was
down, a publish failed, the layer's subscription dropped): it catches up from the
outbox by itself, within a few seconds, with no client action. A socket that has sent
nothing for HEARTBEAT_SECONDS gets `{"type": "heartbeat", "seq": latest}`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from ..events import outbox
from . import delivery, metrics

logger = logging.getLogger(__name__)


class Socket(Protocol):
    last_seq: int
    last_sent: float
    user: object
    socket_id: str

    def ready_for(self, seq: int) -> bool: ...

    async def send_event(self, seq: int, text: str, message: dict) -> None: ...

    async def catch_up(self, upto: int) -> None: ...

    async def heartbeat(self, latest: int) -> None: ...


_sockets: dict[asyncio.AbstractEventLoop, dict[Socket, int]] = {}  # socket → latest seen behind it
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
_listeners: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
_subscribed: dict[asyncio.AbstractEventLoop, asyncio.Future] = {}
_sends: set[asyncio.Task] = set()  # catch-ups and heartbeats under way (kept, or asyncio may drop them)
_threads: dict[asyncio.AbstractEventLoop, int] = {}  # the thread each loop runs in
# Broadcasts handed over here before Redis echoed them back, by message id (the newest kept).
_delivered_here: dict[asyncio.AbstractEventLoop, OrderedDict[str, None]] = {}
DELIVERED_HERE_KEPT = 1000


def register(socket: Socket) -> None:
    loop = asyncio.get_running_loop()
    _sockets.setdefault(loop, {})[socket] = 0
    metrics.socket_opened(socket)
    _threads[loop] = threading.get_ident()
    if loop not in _tasks or _tasks[loop].done():
        _tasks[loop] = loop.create_task(_watch(loop))
    if loop not in _listeners or _listeners[loop].done():
        _subscribed[loop] = loop.create_future()
        _listeners[loop] = loop.create_task(_listen(loop))


async def listening() -> None:
    """Wait until this process's hub is subscribed to broadcasts (raises if it cannot be)."""
    await asyncio.shield(_subscribed[asyncio.get_running_loop()])


async def _listen(loop: asyncio.AbstractEventLoop) -> None:
    """The process's one subscription to broadcast events, handed to every socket here."""
    subscribed = _subscribed[loop]
    while True:
        try:
            layer = get_channel_layer()
            channel = await layer.new_channel("hub.")
            await layer.group_add(delivery.EVERYONE_GROUP, channel)
            if not subscribed.done():
                subscribed.set_result(None)
            while True:
                message = await layer.receive(channel)
                if not _echo(loop, message):
                    await deliver(loop, message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down: the tick's catch-up serves sockets meanwhile
            if not subscribed.done():  # the sockets waiting on it close with 1013 and reconnect
                subscribed.set_exception(exc)
                subscribed.exception()
                subscribed = _subscribed[loop] = loop.create_future()
            logger.warning("event hub lost its broadcast subscription; retrying", exc_info=True)
            await asyncio.sleep(1)


async def deliver(loop: asyncio.AbstractEventLoop, message: dict) -> None:
    """Hand one broadcast to every socket of this process, in one pass."""
    for socket in list(_sockets.get(loop, ())):
        found = delivery.frame_for(message, socket.user.id, socket.socket_id)
        if found is None:
            continue
        seq, text = found
        if not socket.ready_for(seq):
            _start(socket.send_event(seq, text, message))
            continue
        try:
            await socket.send_event(seq, text, message)  # no gap, nothing in flight: daphne queues it
        except Exception:  # one closing socket must not cost the others their event
            logger.info("event not sent to a socket of user %s", socket.user.id, exc_info=True)
    metrics.fanout_passed(message)


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """A running loop of this process's sockets in another thread than the caller's, or None
    (a Celery worker, a process with no socket open)."""
    caller = threading.get_ident()
    for loop, sockets in list(_sockets.items()):
        if sockets and loop.is_running() and _threads.get(loop) != caller:
            return loop
    return None


def expect_echo(message: dict[str, Any]) -> None:
    """Note a broadcast this process is about to publish and hand to this loop's sockets
    itself (deliver_here): the copy Redis brings back is skipped."""
    delivered = _delivered_here.setdefault(asyncio.get_running_loop(), OrderedDict())
    delivered[message["message_id"]] = None
    while len(delivered) > DELIVERED_HERE_KEPT:  # echoes lost while Redis was down
        delivered.popitem(last=False)


async def deliver_here(message: dict[str, Any]) -> None:
    """Hand a broadcast published in this process to this loop's sockets."""
    await deliver(asyncio.get_running_loop(), dict(message))  # a copy: frame_for keeps the unpacked ids in it


def _echo(loop: asyncio.AbstractEventLoop, message: dict[str, Any]) -> bool:
    """Whether the message is Redis's copy of one handed over here already."""
    delivered = _delivered_here.get(loop)
    if not delivered or message.get("message_id") not in delivered:
        return False
    del delivered[message["message_id"]]
    return True


def unregister(socket: Socket) -> None:
    _sockets.get(asyncio.get_running_loop(), {}).pop(socket, None)
    metrics.socket_closed(socket)


async def _watch(loop: asyncio.AbstractEventLoop) -> None:
    while True:
        await asyncio.sleep(settings.EVENTS_CATCH_UP_SECONDS)
        try:
            await tick(loop)
        except Exception:  # the database may be down: try again next tick
            logger.warning("event hub tick failed", exc_info=True)


async def tick(loop: asyncio.AbstractEventLoop) -> None:
    sockets = _sockets.get(loop)
    if not sockets:
        return
    latest = await database_sync_to_async(outbox.latest_seqs)(sorted({s.user.id for s in sockets}))
    now = time.monotonic()
    for socket, behind_at in list(sockets.items()):
        newest = latest.get(socket.user.id, 0)
        if socket.last_seq < behind_at:  # behind since the last tick: not a publish in flight
            _start(socket.catch_up(behind_at))
        elif now - socket.last_sent >= settings.EVENTS_HEARTBEAT_SECONDS:
            _start(socket.heartbeat(newest))
        sockets[socket] = newest if socket.last_seq < newest else 0


def _start(send) -> None:
    task = asyncio.ensure_future(send)
    _sends.add(task)
    task.add_done_callback(_sends.discard)
