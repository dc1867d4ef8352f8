"""Each process's sockets, served together: one layer subscription and one query per
tick for all of them, not one per socket.

Broadcast events (a fan-out to many mitras) reach the process once, on the hub's own
channel in the `everyone` group, and are handed to every socket here in one pass: one
message to decode instead of one per socket, and no per-socket consumer wake-up. A
socket with nothing in flight sends at once; one busy (its hello, a catch-up) keeps the
frame for its turn, so it never holds up the others, and the pass's time is the sending's.

Every process hands broadcasts over in the order Redis passes them on, its own changes'
too (publisher.py says why); a broadcast Redis did not take is handed to this process's
sockets directly (`deliver_here`).

Every CATCH_UP_SECONDS the hub reads the latest `seq` of every user with a socket in
this process. A socket still behind at two ticks in a row missed something (Redis was
down, a publish failed, the layer's subscription dropped): the hub reads what the sockets
behind missed from the outbox, in one query for all of them, and each sends its part,
within a few seconds, with no client action. A socket that has sent
nothing for HEARTBEAT_SECONDS gets `{"type": "heartbeat", "seq": latest}`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from ..events import backlog, outbox
from . import delivery, metrics

logger = logging.getLogger(__name__)


class Socket(Protocol):
    last_seq: int
    last_sent: float
    user: object
    socket_id: str
    sending: asyncio.Lock  # held while the socket sends (its hello, a catch-up)

    async def take(self, seq: int, text: str) -> None: ...

    async def catch_up(self, upto: int, stored: list[outbox.StoredEvent] | None) -> None: ...

    async def heartbeat(self, latest: int) -> None: ...

    async def close(self, code: int) -> None: ...


CLOSE_SERVICE_RESTART = 1012  # the process is stopping: reconnect (to another) and resume


class Hub:
    """One process's sockets and the machinery that serves them all: one per event loop
    (daphne runs one), made by the first socket that registers."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread = threading.get_ident()  # the thread the loop runs in
        self.sockets: dict[Socket, int] = {}  # socket → latest seq seen behind it at the last tick
        self.subscribed: asyncio.Future = loop.create_future()
        self.watcher: asyncio.Task | None = None
        self.listener: asyncio.Task | None = None
        self.stopping = False

    def start(self) -> None:
        """(Re)start the tick and the broadcast subscription, if they are not running."""
        if self.watcher is None or self.watcher.done():
            self.watcher = self.loop.create_task(self._watch())
        if self.listener is None or self.listener.done():
            self.subscribed = self.loop.create_future()
            self.listener = self.loop.create_task(self._listen())

    async def _listen(self) -> None:
        """The process's one subscription to broadcast events, handed to every socket here."""
        while True:
            try:
                layer = get_channel_layer()
                channel = await layer.new_channel("hub.")
                await layer.group_add(delivery.EVERYONE_GROUP, channel)
                if not self.subscribed.done():
                    self.subscribed.set_result(None)
                while True:
                    message = await layer.receive(channel)
                    await deliver(self.loop, message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down: the tick's catch-up serves sockets meanwhile
                if not self.subscribed.done():  # the sockets waiting on it close with 1013 and reconnect
                    self.subscribed.set_exception(exc)
                    self.subscribed.exception()
                    self.subscribed = self.loop.create_future()
                logger.warning("event hub lost its broadcast subscription; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(settings.EVENTS_CATCH_UP_SECONDS)
            try:
                await self.tick()
            except Exception:  # the database may be down: try again next tick
                logger.warning("event hub tick failed", exc_info=True)

    async def tick(self) -> None:
        if not self.sockets:
            return
        latest = await database_sync_to_async(outbox.latest_seqs)(sorted({s.user.id for s in self.sockets}))
        now = time.monotonic()
        # Sockets behind while this hub is still handing over broadcasts older than a tick
        # are behind those broadcasts, which are on their way: reading the outbox for each of
        # them as well would take the cores the broadcasts need.
        busy = backlog.seconds_behind() > settings.EVENTS_CATCH_UP_SECONDS
        behind: list[tuple[Socket, int, int]] = []
        for socket, behind_at in list(self.sockets.items()):
            newest = latest.get(socket.user.id, 0)
            if socket.last_seq < behind_at and not busy:  # behind since the last tick: not a publish in flight
                # A socket sending (its hello, above all: until it is out the socket is at
                # seq 0) is looked at again next tick, not read for from its start.
                if not socket.sending.locked():
                    behind.append((socket, socket.user.id, behind_at))
            elif now - socket.last_sent >= settings.EVENTS_HEARTBEAT_SECONDS:
                _start(socket.heartbeat(newest))
            self.sockets[socket] = newest if socket.last_seq < newest else 0
        if behind:
            await self.catch_up(behind)

    async def catch_up(self, behind: list[tuple[Socket, int, int]]) -> None:
        """Bring the sockets behind up to date from one read of the outbox for all of them.
        A read per socket queued on the process's one database thread: when many fell behind
        at once (a lost publish, a burst), the reads took longer than a tick, the next tick
        found the same sockets behind and queued more, and the process stopped catching up."""
        ranges: dict[int, tuple[int, int]] = {}
        for socket, user_id, upto in behind:
            after, most = ranges.get(user_id, (socket.last_seq, upto))
            ranges[user_id] = (min(after, socket.last_seq), max(most, upto))
        stored = await database_sync_to_async(outbox.events_after_many)(ranges)
        for socket, user_id, upto in behind:  # a socket that closed meanwhile sends nothing
            _start(socket.catch_up(upto, stored[user_id]))

    async def shut_down(self, wait_seconds: float = 2) -> None:
        """The process is stopping: every socket closes with 1012 (its app reconnects to
        another process and resumes), and no new one is served here. Waits, boundedly, for
        the close handshakes, so the frames leave before the process does."""
        self.stopping = True
        sockets = list(self.sockets)
        await asyncio.gather(*(socket.close(code=CLOSE_SERVICE_RESTART) for socket in sockets), return_exceptions=True)
        deadline = self.loop.time() + wait_seconds
        while self.sockets and self.loop.time() < deadline:
            await asyncio.sleep(0.05)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_sends: set[asyncio.Task] = set()  # catch-ups and heartbeats under way (kept, or asyncio may drop them)


def current() -> Hub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(loop)
    return found


def register(socket: Socket) -> None:
    """Serve the socket from this process's hub; raises once the process is stopping."""
    hub = current()
    if hub.stopping:
        raise RuntimeError("this process is shutting down")
    hub.sockets[socket] = 0
    metrics.socket_opened(socket)
    hub.start()


def unregister(socket: Socket) -> None:
    if current().sockets.pop(socket, None) is not None:
        metrics.socket_closed(socket)


async def listening() -> None:
    """Wait until this process's hub is subscribed to broadcasts (raises if it cannot be)."""
    await asyncio.shield(current().subscribed)


async def deliver(loop: asyncio.AbstractEventLoop, message: dict) -> None:
    """Hand one broadcast to every socket of this process, in one pass."""
    hub = _hubs.get(loop)
    backlog.pass_started(None if message.get("relayed") else message.get("committed_at"))
    try:
        await _pass(hub, message)
    finally:
        backlog.pass_ended()
    metrics.fanout_passed(message)


async def _pass(hub: Hub | None, message: dict) -> None:
    for socket in list(hub.sockets if hub else ()):
        found = delivery.frame_for(message, socket.user.id, socket.socket_id)
        if found is None:
            continue
        try:
            await socket.take(*found)  # sent now, or kept for its turn: the pass never waits
        except Exception:  # one closing socket must not cost the others their event
            logger.info("event not sent to a socket of user %s", socket.user.id, exc_info=True)


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """A running loop of this process's sockets in another thread than the caller's, or None
    (a Celery worker, a process with no socket open)."""
    caller = threading.get_ident()
    for loop, hub in list(_hubs.items()):
        if hub.sockets and loop.is_running() and hub.thread != caller:
            return loop
    return None


async def deliver_here(message: dict[str, Any]) -> None:
    """Hand a broadcast Redis did not take to this loop's sockets."""
    await deliver(asyncio.get_running_loop(), dict(message))  # a copy: frame_for keeps the unpacked ids in it


async def shut_down() -> None:
    """This process's shutdown hook (`common.shutdown`)."""
    for hub in list(_hubs.values()):
        if hub.loop is asyncio.get_running_loop():
            await hub.shut_down()


def _start(send) -> None:
    task = asyncio.ensure_future(send)
    _sends.add(task)
    task.add_done_callback(_sends.discard)
