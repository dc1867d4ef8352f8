"""Each web process's one feed of the live page to its staff tabs.

Every staff socket of a process (the live page's and the request pages') is a tab of the
process's feed. A change reported to the `staff.live` group names the users it concerns
(an event's recipients, the mitra whose availability, presence or offer proof changed).
The feed gathers those names, waits COALESCE_SECONDS so a burst is one read, and then
reads the state once for every tab of the process: only the named mitras' entries and
board rows, and the page's parts that do not grow with the number of mitras
(`live.read`). Each tab gets the whole state when it connects (`{"type": "snapshot"}`)
and afterwards only what changed (`{"type": "update"}`, `live.difference`), which the
page merges. Reading, comparing and encoding run on a database thread, encoded once for
every tab.

Every REFRESH_SECONDS the whole state is read again (and only its differences sent):
what changes with time alone (an offer passing its ack grace, midnight, a crashed
process's presence ending after presence.GRACE_SECONDS) or without a notice (an admin's
edit, a new device, a notice lost while Redis was down) shows within that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.core.serializers.json import DjangoJSONEncoder

from pairing.realtime.delivery import staff_message_users

from . import live

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.25
REFRESH_SECONDS = 20


class Tab(Protocol):
    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None: ...


@dataclass(eq=False)
class _Feed:
    tabs: set[Tab] = field(default_factory=set)
    fresh: set[Tab] = field(default_factory=set)  # tabs not sent their snapshot yet
    named: set[int] | None = field(default_factory=set)  # users changes named since the last read; None: anyone
    due: asyncio.Event = field(default_factory=asyncio.Event)
    state: live.State | None = None
    read_all_at: float = float("-inf")  # monotonic time of the last read of everything
    task: asyncio.Task | None = None


_feeds: dict[asyncio.AbstractEventLoop, _Feed] = {}


def _encode(frame_type: str, data: dict) -> str:
    return json.dumps({"type": frame_type, "data": data}, cls=DjangoJSONEncoder, separators=(",", ":"))


def _advance(
    state: live.State | None, named: set[int] | None, snapshot: bool
) -> tuple[live.State, str | None, str | None]:
    """The state after the named changes, the update frame for tabs that had `state`
    (None: nothing to tell them), and the snapshot frame for new tabs (when asked for)."""
    new, read_again = live.read(state, named)
    update = None
    if state is not None:
        changes = live.difference(state, new, read_again)
        if set(changes) != {"now"}:  # the clock alone: the page counts down by itself
            update = _encode("update", changes)
    return new, update, _encode("snapshot", live.present(new)) if snapshot else None


def join(tab: Tab) -> None:
    """A new tab: sent the whole state soon (with the next read), then every change."""
    loop = asyncio.get_running_loop()
    feed = _feeds.setdefault(loop, _Feed())
    feed.tabs.add(tab)
    feed.fresh.add(tab)
    feed.due.set()
    if feed.task is None or feed.task.done():
        feed.task = loop.create_task(_run(feed))


def leave(tab: Tab) -> None:
    """A tab closed; with the last one the feed stops and forgets its state (nobody hears
    the changes any more, so it would go stale)."""
    loop = asyncio.get_running_loop()
    feed = _feeds.get(loop)
    if feed is None:
        return
    feed.tabs.discard(tab)
    feed.fresh.discard(tab)
    if not feed.tabs:
        if feed.task is not None:
            feed.task.cancel()
        del _feeds[loop]


def changed(message: dict[str, Any]) -> None:
    """A `live.changed` message one of the process's tabs received (every tab receives each
    one; naming the same users twice costs nothing)."""
    feed = _feeds.get(asyncio.get_running_loop())
    if feed is None:
        return
    users = staff_message_users(message)
    if users is None:
        feed.named = None
    elif feed.named is not None:
        feed.named.update(users)
    feed.due.set()


async def _run(feed: _Feed) -> None:
    while feed.tabs:
        feed.due.clear()
        named, feed.named = feed.named, set()
        if time.monotonic() - feed.read_all_at >= REFRESH_SECONDS:
            named = None
        fresh, feed.fresh = feed.fresh, set()
        try:
            state, update, snapshot = await database_sync_to_async(_advance)(feed.state, named, bool(fresh))
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be down: the next change, or the refresh, reads everything
            logger.warning("live state could not be read", exc_info=True)
            feed.named, feed.fresh = None, feed.fresh | (fresh & feed.tabs)
            feed.read_all_at = time.monotonic()  # the refresh's wait, not a retry every COALESCE_SECONDS
        else:
            if named is None:
                feed.read_all_at = time.monotonic()
            feed.state = state
            # Tabs that joined during the read wait for their snapshot: they never had `state`.
            await _send(feed.tabs - fresh - feed.fresh, update)
            await _send(fresh & feed.tabs, snapshot)
        wait = max(0.0, feed.read_all_at + REFRESH_SECONDS - time.monotonic())
        try:
            await asyncio.wait_for(feed.due.wait(), timeout=wait)
        except TimeoutError:
            pass
        await asyncio.sleep(COALESCE_SECONDS)


async def _send(tabs: set[Tab], text: str | None) -> None:
    if text is None or not tabs:
        return
    results = await asyncio.gather(*(tab.send(text_data=text) for tab in tabs), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):  # a tab closing meanwhile; its disconnect removes it
            logger.info("live frame not sent", exc_info=result)
