"""WebSocket endpoints `/ws/mitra/` and `/ws/customer/` (contract section 7).

They authenticate, join their groups, and pass frames through: event payloads are
built by the presenters in the transaction that caused them, never here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .. import presenters
from ..accounts.auth import user_for_token
from ..accounts.models import Role, User
from ..events.bus import encode
from ..requests import selectors as request_selectors
from . import delivery, presence

CLOSE_BAD_TOKEN = 4401
CLOSE_WRONG_ROLE = 4403


def _token_from_scope(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            if scheme.lower() == "token":
                return key.strip()
    return None


@database_sync_to_async
def _authenticate(scope: dict[str, Any]) -> User | None:
    return user_for_token(_token_from_scope(scope))


@database_sync_to_async
def _pending_views(user: User) -> list[dict[str, Any]]:
    return presenters.request_views(request_selectors.pending_requests_for_mitra(user))


class PairingConsumer(AsyncWebsocketConsumer):
    role: str = ""

    def groups_for(self, user: User) -> list[str]:
        return [delivery.EVERYONE_GROUP, delivery.user_group(user.id)]

    async def connect(self) -> None:
        self.user: User | None = None
        self.socket_id = delivery.socket_id()
        user = await _authenticate(self.scope)
        # Accept first, so the client reads the close code instead of a refused handshake.
        await self.accept()
        if user is None:
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        if user.role != self.role:
            await self.close(code=CLOSE_WRONG_ROLE)
            return
        self.user = user
        self.joined = self.groups_for(user)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.after_connect()

    async def after_connect(self) -> None:
        pass

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None:
            return
        try:
            frame = json.loads(text_data) if text_data is not None else None
        except ValueError:
            frame = None
        if isinstance(frame, dict) and frame.get("type") == "ping":
            await self.on_ping()
            await self.send(text_data='{"type":"pong"}')
        else:
            await self.send(text_data='{"type":"error","data":{"code":"bad_frame"}}')

    async def on_ping(self) -> None:
        pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Event frames are built before publishing and touch no database, so they skip
        # channels' per-message close_old_connections, a hop through the one sync thread
        # that queued a 1,000-socket fan-out behind 1,000 thread switches (~200 ms).
        if message["type"] == delivery.MESSAGE_TYPE:
            await self.pairing_event(message)
        else:
            await super().dispatch(message)

    async def pairing_event(self, message: dict[str, Any]) -> None:
        if self.user is None:
            return
        text = delivery.frame_for(message, self.user.id, self.socket_id)
        if text is not None:
            await self.send(text_data=text)


class MitraConsumer(PairingConsumer):
    role = Role.MITRA

    async def after_connect(self) -> None:
        await presence.connected(self.user.id, self.channel_name)
        # Joined the groups before reading the queue: an event published meanwhile is
        # delivered after hello, never lost (the app dedupes by session_id).
        pending = await _pending_views(self.user)
        await self.send(text_data=delivery.frame("hello", encode({"pending": pending})))

    async def on_ping(self) -> None:
        await presence.seen(self.user.id, self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.user is not None:
            await presence.disconnected(self.user.id, self.channel_name)
        await super().disconnect(code)


class CustomerConsumer(PairingConsumer):
    role = Role.CUSTOMER
