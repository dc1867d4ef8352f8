"""Which mitras have an open mitra socket right now, across processes.

Each open socket is a member `<mitra_id>:<connection>` of one Redis sorted set,
scored with the time it was last seen. Every daphne process refreshes its own
sockets every HEARTBEAT_SECONDS; a member older than GRACE_SECONDS no longer counts,
so a crashed process does not leave its mitras online. This is separate from
`is_available`, which is the mitra's own choice.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable

import redis
import redis.asyncio as aioredis
from django.conf import settings

HEARTBEAT_SECONDS = 15
GRACE_SECONDS = 45

_sync_client: redis.Redis | None = None
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_local_members: dict[asyncio.AbstractEventLoop, set[str]] = {}
_heartbeats: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def _key() -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG'].get('prefix', 'asgi')}:presence:mitra"


def _sync() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL)
    return _sync_client


def _async() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        _async_clients[loop] = client
    return client


def member(mitra_id: int, connection: str) -> str:
    return f"{mitra_id}:{connection}"


async def connected(mitra_id: int, connection: str) -> None:
    loop = asyncio.get_running_loop()
    name = member(mitra_id, connection)
    _local_members.setdefault(loop, set()).add(name)
    await _async().zadd(_key(), {name: time.time()})
    if loop not in _heartbeats or _heartbeats[loop].done():
        _heartbeats[loop] = loop.create_task(_heartbeat(loop))


async def seen(mitra_id: int, connection: str) -> None:
    await _async().zadd(_key(), {member(mitra_id, connection): time.time()})


async def disconnected(mitra_id: int, connection: str) -> None:
    name = member(mitra_id, connection)
    _local_members.get(asyncio.get_running_loop(), set()).discard(name)
    await _async().zrem(_key(), name)


async def _heartbeat(loop: asyncio.AbstractEventLoop) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        members = _local_members.get(loop)
        if not members:
            continue
        now = time.time()
        client = _async()
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd(_key(), dict.fromkeys(members, now))
            pipe.zremrangebyscore(_key(), "-inf", now - GRACE_SECONDS)  # members of dead processes
            await pipe.execute()


def online_mitra_ids(candidates: Iterable[int] | None = None) -> set[int]:
    """Mitras with at least one socket seen within the grace period (one round trip)."""
    live = _sync().zrangebyscore(_key(), time.time() - GRACE_SECONDS, "+inf")
    online = {int(name.split(b":", 1)[0]) for name in live}
    return online if candidates is None else online & set(candidates)
