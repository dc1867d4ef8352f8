"""Which mitras have an open mitra socket right now, across processes.

Each open socket is a member `<mitra_id>:<connection>` of one Redis sorted set, scored
with the time it was last seen; a member older than GRACE_SECONDS no longer counts, so
a crashed process does not leave its mitras online. This is separate from
`is_available`, which is the mitra's own choice.

Who is online is read from a second sorted set, one member per mitra scored with the
time its freshest socket was seen. Asking about given mitras (a fan-out's recipients)
costs what was asked, not everyone online: one ZMSCORE, or, when they are most of
those online, the range of everyone online (a quarter of ZMSCORE's cost per mitra, and
then hardly more mitras than were asked). Sockets raise their mitra's
time as they are seen (ZADD GT); when sockets close or a dead process's are dropped, a
script sets each of their mitras' time again from the sockets left, found through an
index of the same members scored 0 (Redis orders it by name, so a mitra's sockets are
one range). So closing one of a mitra's two sockets, in any process, leaves it online,
and closing the last makes it offline at once, whatever a crashed process left behind.
The writes go in the order socket, index, mitra: a pipeline cut short leaves a mitra
looking offline (pushed, which is harmless), never online, until the next heartbeat.

Presence costs Redis one pipeline per process per tick, not a call per socket: sockets
that open or close within FLUSH_DELAY_SECONDS of each other are written together, every
HEARTBEAT_SECONDS one pipeline refreshes all of the process's sockets, and a socket's
own pings cost nothing. With Redis down, the writes wait for the next tick; no socket
is ever closed for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.commands.core import AsyncScript

from . import delivery

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15
# A check of more mitras than this asks how many are online first (ZCARD), and reads them
# all when the asked are at least a quarter of them.
FEW_MITRAS = 256
GRACE_SECONDS = 45
FLUSH_DELAY_SECONDS = 0.05
# One process needs one connection for its ticks; the spare ones cover a slow tick.
ASYNC_POOL_SIZE = 4
SYNC_POOL_SIZE = 16  # request threads asking who is online (daphne's thread pool is smaller)
POOL_WAIT_SECONDS = 1


@dataclass(eq=False)
class _Process:
    """One event loop's sockets: what Redis knows, and what it is still to be told."""

    client: aioredis.Redis
    remove: AsyncScript
    prune: AsyncScript
    members: set[str] = field(default_factory=set)
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    flushed: asyncio.Future | None = None  # the next write, shared by every socket waiting on it
    heartbeat: asyncio.Task | None = None


_processes: dict[asyncio.AbstractEventLoop, _Process] = {}
_sync_client: redis.Redis | None = None


def _key() -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG'].get('prefix', 'asgi')}:presence:mitra"


def _index_key() -> str:
    return f"{_key()}:by-id"


def _mitra_key() -> str:
    return f"{_key()}:by-mitra"


def _keys() -> list[str]:
    return [_key(), _index_key(), _mitra_key()]


# KEYS: sockets by time, the index, mitras by time. Each mitra in `touched` gets the time
# of its freshest socket left, or leaves the mitras' set: one ZADD and one ZREM in all.
# `[12:` to `(12;` is every member starting "12:" (";" follows ":"), never "123:".
_RESET_MITRAS = """
local function reset(touched)
  local seen, gone = {}, {}
  for id in pairs(touched) do
    local best = nil
    for _, name in ipairs(redis.call('ZRANGEBYLEX', KEYS[2], '[' .. id .. ':', '(' .. id .. ';')) do
      local at = tonumber(redis.call('ZSCORE', KEYS[1], name))
      if at and (best == nil or at > best) then best = at end
    end
    if best then
      seen[#seen + 1] = best
      seen[#seen + 1] = id
    else
      gone[#gone + 1] = id
    end
  end
  for i = 1, #seen, 1000 do redis.call('ZADD', KEYS[3], unpack(seen, i, math.min(i + 999, #seen))) end
  for i = 1, #gone, 1000 do redis.call('ZREM', KEYS[3], unpack(gone, i, math.min(i + 999, #gone))) end
end

local function remove(names)
  local touched = {}
  for i = 1, #names, 1000 do
    local chunk = {unpack(names, i, math.min(i + 999, #names))}
    redis.call('ZREM', KEYS[1], unpack(chunk))
    redis.call('ZREM', KEYS[2], unpack(chunk))
  end
  for _, name in ipairs(names) do touched[string.match(name, '^[^:]+')] = true end
  reset(touched)
  return #names
end
"""
# ARGV: the sockets that closed.
_REMOVE_SCRIPT = _RESET_MITRAS + "return remove(ARGV)"
# ARGV: the newest time that no longer counts: a dead process's sockets go; returns how many.
_PRUNE_SCRIPT = _RESET_MITRAS + "return remove(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]))"


def _timeouts() -> dict[str, float]:
    """A hung Redis fails a presence call fast: a mitra whose presence cannot be read is
    pushed as well, which is harmless."""
    seconds = settings.REDIS_SOCKET_TIMEOUT_SECONDS
    return {"socket_timeout": seconds, "socket_connect_timeout": seconds}


def _sync() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=SYNC_POOL_SIZE, timeout=POOL_WAIT_SECONDS, **_timeouts()
        )
        _sync_client = redis.Redis(connection_pool=pool)
    return _sync_client


def _process() -> _Process:
    loop = asyncio.get_running_loop()
    process = _processes.get(loop)
    if process is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=ASYNC_POOL_SIZE, timeout=POOL_WAIT_SECONDS, **_timeouts()
        )
        client = aioredis.Redis(connection_pool=pool)
        process = _processes[loop] = _Process(
            client=client, remove=client.register_script(_REMOVE_SCRIPT), prune=client.register_script(_PRUNE_SCRIPT)
        )
    if process.heartbeat is None or process.heartbeat.done():
        process.heartbeat = loop.create_task(_heartbeat(process))
    return process


def member(mitra_id: int, connection: str) -> str:
    return f"{mitra_id}:{connection}"


def mitra_of(name: str) -> int:
    return int(name.split(":", 1)[0])


async def connected(mitra_id: int, connection: str) -> None:
    """Count the socket as online; returns once Redis has it (raises if Redis is down)."""
    process = _process()
    name = member(mitra_id, connection)
    process.members.add(name)
    process.removed.discard(name)
    process.added.add(name)
    await _flush_soon(process)


async def disconnected(mitra_id: int, connection: str) -> None:
    process = _process()
    name = member(mitra_id, connection)
    process.members.discard(name)
    process.added.discard(name)
    process.removed.add(name)
    await _flush_soon(process)


async def leave_all() -> None:
    """The process is stopping: every one of its sockets stops counting at once (one
    pipeline), so their mitras are pushed instead of waiting out the grace period."""
    process = _processes.get(asyncio.get_running_loop())
    if process is None or not (process.members or process.added):
        return
    process.removed |= process.members | process.added
    process.members, process.added = set(), set()
    await _write(process, set(), prune=False)


async def _flush_soon(process: _Process) -> None:
    """Join the write that is about to go out, or start one."""
    if process.flushed is None:
        loop = asyncio.get_running_loop()
        process.flushed = loop.create_future()
        loop.call_later(FLUSH_DELAY_SECONDS, lambda: loop.create_task(_flush(process)))
    await asyncio.shield(process.flushed)


async def _flush(process: _Process) -> None:
    waiting, process.flushed = process.flushed, None
    added, process.added = process.added, set()
    try:
        await _write(process, added, prune=False)
    except Exception as exc:  # Redis is down: the heartbeat writes everything again when it is back
        if waiting is not None and not waiting.done():
            waiting.set_exception(exc)
            waiting.exception()  # retrieved: nobody else need be waiting on it
        return
    if waiting is not None and not waiting.done():
        waiting.set_result(None)


async def _write(process: _Process, seen: set[str], prune: bool) -> None:
    """One pipeline: `seen` members refreshed, sockets closed since the last write removed,
    and (when pruning) members of dead processes dropped. Removals that fail are kept for
    the next write."""
    now = time.time()
    removed, process.removed = process.removed, set()
    try:
        async with process.client.pipeline(transaction=False) as pipe:
            if seen:
                pipe.zadd(_key(), dict.fromkeys(seen, now))
                pipe.zadd(_index_key(), dict.fromkeys(seen, 0))
                pipe.zadd(_mitra_key(), dict.fromkeys({mitra_of(name) for name in seen}, now), gt=True)
            if removed:
                await process.remove(keys=_keys(), args=sorted(removed), client=pipe)
            if prune:
                await process.prune(keys=_keys(), args=[now - GRACE_SECONDS], client=pipe)
            results = await pipe.execute()
    except Exception:
        process.removed |= removed - process.members
        raise
    if prune and results[-1] > 0:  # a dead process's mitras, whoever they were
        await delivery.tell_staff_async("presence", None)
    elif (seen and not prune) or removed:  # a heartbeat alone changes nobody's presence
        changed = (seen if not prune else set()) | removed
        await delivery.tell_staff_async("presence", sorted({mitra_of(name) for name in changed}))


async def _heartbeat(process: _Process) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            await refresh(process)
        except Exception:
            logger.warning("presence heartbeat failed; trying again in %s s", HEARTBEAT_SECONDS, exc_info=True)


async def refresh(process: _Process | None = None) -> None:
    """Every socket of this process seen now, and members of dead processes dropped."""
    process = process or _process()
    await _write(process, set(process.members), prune=True)


def online_mitra_ids(candidates: Iterable[int] | None = None) -> set[int]:
    """Mitras with at least one socket seen within the grace period: of `candidates` (at a
    cost that follows how many), or everyone online (None)."""
    client = _sync()
    oldest = time.time() - GRACE_SECONDS
    if candidates is not None:
        asked = sorted({int(mitra_id) for mitra_id in candidates})
        if not asked:
            return set()
        if len(asked) <= FEW_MITRAS or 4 * len(asked) < client.zcard(_mitra_key()):
            seen = client.zmscore(_mitra_key(), asked)
            return {mitra_id for mitra_id, at in zip(asked, seen, strict=True) if at is not None and at >= oldest}
    online = {int(mitra_id) for mitra_id in client.zrangebyscore(_mitra_key(), oldest, "+inf")}
    return online if candidates is None else online.intersection(asked)
