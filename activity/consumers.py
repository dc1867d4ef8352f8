"""`/ws/control-center/live/`: the live operations page's socket, for signed-in staff.

It sends the page's whole state (`activity.live.snapshot`) on connect and again after
any change the pairing system reports to the `staff.live` group, at most once per
COALESCE_SECONDS: a fan-out to 5,000 mitras is one message here, and a burst of
changes is one snapshot. Everyone else is refused with 4403 before the socket opens.
"""

from __future__ import annotations

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder

from pairing.realtime.delivery import STAFF_GROUP

from . import live

logger = logging.getLogger(__name__)

CLOSE_NOT_STAFF = 4403
COALESCE_SECONDS = 0.25
# Presence of a process that died ends after presence.GRACE_SECONDS with nobody told:
# the page reads the state again this often even when nothing was reported.
REFRESH_SECONDS = 20


class LiveConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not (user.is_authenticated and user.is_active and user.is_staff):
            await self.close(code=CLOSE_NOT_STAFF)
            return
        self._due: asyncio.Event = asyncio.Event()
        self._sender: asyncio.Task | None = None
        await self.channel_layer.group_add(STAFF_GROUP, self.channel_name)
        await self.accept()
        self._sender = asyncio.create_task(self._send_snapshots())

    async def disconnect(self, code: int) -> None:
        if getattr(self, "_sender", None) is not None:
            self._sender.cancel()
            await self.channel_layer.group_discard(STAFF_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing it needs answered; a ping keeps proxies from closing it."""

    async def live_changed(self, message: dict) -> None:
        self._due.set()

    async def _send_snapshots(self) -> None:
        while True:
            try:
                state = await database_sync_to_async(live.snapshot)()
                await self.send(text_data=json.dumps({"type": "snapshot", "data": state}, cls=DjangoJSONEncoder))
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be down: the next change or refresh tries again
                logger.warning("live snapshot failed", exc_info=True)
            try:
                await asyncio.wait_for(self._due.wait(), timeout=REFRESH_SECONDS)
            except TimeoutError:
                pass
            await asyncio.sleep(COALESCE_SECONDS)
            self._due.clear()
