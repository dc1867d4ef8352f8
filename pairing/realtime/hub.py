"""Each process's sockets, watched together: one query per tick, not one per socket.

Every CATCH_UP_SECONDS the hub reads the latest `seq` of every user with a socket in
this process. A socket still behind at two ticks in a row missed something (Redis was
down, a publish failed, the layer's subscription dropped): it catches up from the
outbox by itself, within a few seconds, with no client action. A socket that has sent
nothing for HEARTBEAT_SECONDS gets `{"type": "heartbeat", "seq": latest}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from ..events import outbox

logger = logging.getLogger(__name__)


class Socket(Protocol):
    last_seq: int
    last_sent: float
    user: object

    async def catch_up(self, upto: int) -> None: ...

    async def heartbeat(self, latest: int) -> None: ...


_sockets: dict[asyncio.AbstractEventLoop, dict[Socket, int]] = {}  # socket → latest seen behind it
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
_sends: set[asyncio.Task] = set()  # catch-ups and heartbeats under way (kept, or asyncio may drop them)


def register(socket: Socket) -> None:
    loop = asyncio.get_running_loop()
    _sockets.setdefault(loop, {})[socket] = 0
    if loop not in _tasks or _tasks[loop].done():
        _tasks[loop] = loop.create_task(_watch(loop))


def unregister(socket: Socket) -> None:
    _sockets.get(asyncio.get_running_loop(), {}).pop(socket, None)


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
