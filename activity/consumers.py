"""`/ws/control-center/live/`: the live operations page's socket, for signed-in staff.

Each socket is a tab of its process's live feed (`activity.live_feed`): the page's whole
state on connect, then, after any change the pairing system reports to the `staff.live`
group, only what changed, at most once per live_feed.COALESCE_SECONDS; the state is read
once per process for every tab. Everyone else is refused with 4403 before the socket
opens.
"""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

from pairing.realtime.delivery import STAFF_GROUP

from . import live_feed

CLOSE_NOT_STAFF = 4403


class LiveConsumer(AsyncWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not (user.is_authenticated and user.is_active and user.is_staff):
            await self.close(code=CLOSE_NOT_STAFF)
            return
        await self.channel_layer.group_add(STAFF_GROUP, self.channel_name)
        await self.accept()
        live_feed.join(self)
        self.joined = True

    async def disconnect(self, code: int) -> None:
        if self.joined:
            live_feed.leave(self)
            await self.channel_layer.group_discard(STAFF_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing it needs answered; a ping keeps proxies from closing it."""

    async def live_changed(self, message: dict) -> None:
        live_feed.changed(message)
