"""WebSocket endpoints `/ws/mitra/` and `/ws/customer/` (contract sections 7 and 11).

They authenticate, join their groups and pass frames through: event payloads are built
by the presenters in the transaction that caused them, never here. What a socket adds
is order: it remembers the last `seq` it sent, drops what it already sent, and fills a
gap from the outbox before sending past it, so every socket gets each event of its
user once, in order (live, from the outbox, or after a resume with `since`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from common.integers import parse_int

from ..accounts.auth import user_for_token
from ..accounts.models import Role, User
from ..events import outbox
from ..events.bus import encode
from ..requests import presenters
from ..requests import selectors as request_selectors
from . import acks, delivery, hub, metrics, presence

logger = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
CLOSE_WRONG_ROLE = 4403
CLOSE_TRY_AGAIN_LATER = 1013  # the server cannot serve sockets right now (Redis down): reconnect and resume
# Live frames a socket keeps until their turn; past this many, the rest are left to the
# hub's catch-up, which reads them from the outbox.
WAITING_KEPT = 500
BAD_FRAME = '{"type":"error","data":{"code":"bad_frame"}}'
_presence_writes: set[asyncio.Task] = set()  # kept, or asyncio may drop them


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _token_from_scope(scope: dict[str, Any]) -> str | None:
    query = _query(scope)
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            if scheme.lower() == "token":
                return key.strip()
    return None


def parse_since(value: str | None) -> int | None:
    """A non-negative integer in ASCII digits (contract section 12), or None (which makes
    the server resync)."""
    return parse_int(value)


@database_sync_to_async
def _authenticate(scope: dict[str, Any]) -> User | None:
    return user_for_token(_token_from_scope(scope))


def snapshot(user: User) -> tuple[int, dict[str, Any]]:
    """(latest seq, hello's data). The seq is read first, so the snapshot reflects at least
    every event up to it: an offer it lists was announced at a seq no greater."""
    latest = outbox.latest_seq(user.id)
    if user.role != Role.MITRA:
        return latest, {}
    return latest, {"pending": presenters.request_views(request_selectors.pending_requests_for_mitra(user))}


class PairingConsumer(AsyncWebsocketConsumer):
    role: str = ""

    async def connect(self) -> None:
        self.user: User | None = None
        self.joined: list[str] = []
        self.socket_id = delivery.socket_id()
        self.last_seq = 0
        self.last_sent = time.monotonic()
        self.sending = asyncio.Lock()
        self.waiting: dict[int, str] = {}  # live frames that came before their turn, by seq
        user = await _authenticate(self.scope)
        # Accept first, so the client reads the close code instead of a refused handshake.
        await self.accept()
        if user is None:
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        if user.role != self.role:
            await self.close(code=CLOSE_WRONG_ROLE)
            return
        # Broadcasts reach this process's hub once (hub.py); the socket's own group carries
        # events for a few users. The lock is held from before the hub knows the socket until
        # hello (or the resume) is sent: a broadcast arriving meanwhile is kept, then what the
        # snapshot did not cover goes out. Setting up is all or nothing: a socket that fails on
        # the way leaves nothing registered (hub, groups, presence) and is told to come back.
        self.user = user
        async with self.sending:
            try:
                await self._set_up()
                await self._send_waiting()
            except Exception:
                logger.warning("socket of user %s not set up; closed with 1013", user.id, exc_info=True)
                await self._tear_down()
                self.user = None
                await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def _set_up(self) -> None:
        for group in [delivery.user_group(self.user.id)]:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        hub.register(self)
        await hub.listening()
        await self.after_connect()
        since = _query(self.scope).get("since")
        if since is None:
            await self._hello(resync=False)
        else:
            await self._resume(parse_since(since[0]))

    async def _tear_down(self) -> None:
        hub.unregister(self)
        for group in self.joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                logger.info("group_discard failed for a closing socket", exc_info=True)
        self.joined = []

    async def after_connect(self) -> None:
        pass

    async def disconnect(self, code: int) -> None:
        if self.user is not None:
            await self._tear_down()

    # -- sending, in seq order (callers hold self.sending) ------------------------------

    async def _send(self, text: str) -> None:
        await self.send(text_data=text)
        self.last_sent = time.monotonic()

    async def _hello(self, resync: bool) -> None:
        latest, data = await database_sync_to_async(snapshot)(self.user)
        top = {"seq": latest, "resync": True} if resync else {"seq": latest}
        metrics.hello_sent(resync)
        await self._send(delivery.frame("hello", encode(data), **top))
        self.last_seq = latest

    async def _resume(self, since: int | None) -> None:
        latest, stored = await database_sync_to_async(outbox.events_since)(self.user.id, since)
        if stored is None:
            await self._hello(resync=True)
        else:
            await self._send_stored(stored, latest)

    async def _fill_to(self, upto: int) -> bool:
        """Bring the socket up to `upto` from the outbox; if some events are no longer kept,
        resync instead (the snapshot covers them) and return False. Callers hold self.sending."""
        if upto <= self.last_seq:
            return True
        stored = await database_sync_to_async(outbox.events_after)(self.user.id, self.last_seq, upto)
        metrics.gap_filled(stored)
        if stored is None:
            await self._hello(resync=True)
            return False
        await self._send_stored(stored, upto)
        return True

    async def _send_stored(self, stored: list[outbox.StoredEvent], upto: int) -> None:
        for event in stored:
            await self._send(delivery.stored_frame(event))
        self.last_seq = max(self.last_seq, upto)

    async def _send_waiting(self) -> None:
        """Send the kept live frames whose turn has come, and drop those sent meanwhile
        (from the outbox, or covered by a hello). Callers hold self.sending."""
        while (text := self.waiting.pop(self.last_seq + 1, None)) is not None:
            await self._send(text)
            self.last_seq += 1
        if self.waiting:
            for seq in [seq for seq in self.waiting if seq <= self.last_seq]:
                del self.waiting[seq]

    async def catch_up(self, upto: int, stored: list[outbox.StoredEvent] | None) -> None:
        """Send what this socket missed up to `upto`: the hub saw it behind, and read its
        user's events from the outbox with the other sockets' behind (`stored`, None if some
        are no longer kept). Only what the socket has not sent meanwhile goes out; past what
        the hub read, or if it could not, the socket reads the outbox itself."""
        async with self.sending:
            if upto > self.last_seq:
                missed = [event for event in stored or () if self.last_seq < event.seq <= upto]
                if missed and missed[0].seq == self.last_seq + 1:
                    metrics.gap_filled(missed)
                    await self._send_stored(missed, missed[-1].seq)
                if not await self._fill_to(upto):
                    return
            await self._send_waiting()

    async def heartbeat(self, latest: int) -> None:
        async with self.sending:
            await self._send(f'{{"type":"heartbeat","seq":{max(latest, self.last_seq)}}}')
            await self._send_waiting()

    # -- events from the layer -------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Event frames and client frames (acks, pings) touch no database, so they skip
        # channels' per-message close_old_connections: a hop through the process's one sync
        # thread, the thread every query of every socket and request waits for. An ack per
        # frame per mitra queued there took the cores a fan-out needed, and a ping waited
        # behind a slow query. What does touch the database goes through
        # database_sync_to_async, which closes old connections itself.
        if message["type"] == delivery.MESSAGE_TYPE:
            await self.pairing_event(message)
        elif message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def pairing_event(self, message: dict[str, Any]) -> None:
        """An event for this user's own group (the hub hands broadcasts to `take`)."""
        if self.user is None:
            return
        found = delivery.frame_for(message, self.user.id, self.socket_id)
        if found is not None:
            await self.take(*found)
            metrics.fanout_passed(message)

    async def take(self, seq: int, text: str) -> None:
        """A live event frame: sent now if it is the socket's next and nothing else is being
        sent; otherwise kept until its turn. A frame comes early when the socket is busy
        (its hello, a catch-up) or overtook its predecessor (two changes committed moments
        apart, or an event to the user's own group beside a broadcast): whoever sends the
        predecessor sends it next. One that never comes is read from the outbox by the
        hub's catch-up. No frame waits in a task of its own: under load, a task and a
        timeout per socket and frame took the cores the frames needed."""
        if seq <= self.last_seq:
            return  # sent already (a relay's second copy, or a catch-up got there first)
        if seq != self.last_seq + 1 or self.sending.locked():
            if len(self.waiting) < WAITING_KEPT:
                self.waiting[seq] = text
            return
        async with self.sending:  # free: taken without waiting
            await self._send(text)
            self.last_seq = seq
            await self._send_waiting()

    # -- client frames -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None:
            return
        try:
            frame = json.loads(text_data) if text_data is not None else None
        except ValueError:
            frame = None
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "ping":
            await self.send(text_data='{"type":"pong"}')  # presence needs nothing: the process refreshes it
        elif kind == "ack" and await self._ack(frame.get("seq")):
            return
        else:
            await self.send(text_data=BAD_FRAME)

    async def _ack(self, seq: Any) -> bool:
        """Record delivery of this user's offers in frames up to `seq`, whichever socket
        carried them; False for a bad ack (one past what this socket was sent)."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or seq > self.last_seq:
            return False
        if self.user.role == Role.MITRA:
            acks.record(self.user.id, seq)  # proven with the process's other acks, within moments
        return True


class MitraConsumer(PairingConsumer):
    role = Role.MITRA

    async def after_connect(self) -> None:
        # Written with the process's next presence pipeline; `hello` does not wait for it.
        self.in_presence = True
        task = asyncio.ensure_future(self._record_presence())
        _presence_writes.add(task)
        task.add_done_callback(_presence_writes.discard)

    async def _record_presence(self) -> None:
        try:
            await presence.connected(self.user.id, self.channel_name)
        except Exception:  # without presence the mitra may get a push too: harmless, never a closed socket
            logger.warning("presence not recorded for mitra %s", self.user.id, exc_info=True)

    async def _tear_down(self) -> None:
        if getattr(self, "in_presence", False):
            self.in_presence = False
            try:
                await presence.disconnected(self.user.id, self.channel_name)
            except Exception:
                logger.info("presence not updated for a closing socket", exc_info=True)
        await super()._tear_down()


class CustomerConsumer(PairingConsumer):
    role = Role.CUSTOMER
