"""Delivery of events to sockets through the channels-redis pub/sub layer.

A fan-out is one PUBLISH, whatever the number of mitras: every socket is in the
`everyone` group, and the message carries each distinct view once (already JSON) with
the sorted ids of the users it is for and each one's `seq`, packed as 32-bit integers. Each daphne process
receives the message once; each socket checks its own id by binary search and sends
the frame without building the view again. An event for a few users goes to their own
groups instead, so other processes are not woken for it. Publishing from sync code
(request threads, Celery) is `publisher.py`.
"""

from __future__ import annotations

import json
import logging
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.utils import timezone

from ..events.bus import Event
from ..events.outbox import StoredEvent

logger = logging.getLogger(__name__)

EVERYONE_GROUP = "everyone"
# Staff live views: told *that* something changed and whose (the users' ids, packed), never
# what a user got.
STAFF_GROUP = "staff.live"
STAFF_MESSAGE_TYPE = "live.changed"  # handled by the live view consumer's `live_changed`
MESSAGE_TYPE = "pairing.event"  # handled by the consumers' `pairing_event` method
# Events for at most this many users go to the users' own groups.
DIRECT_RECIPIENTS = 4


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _unpack(packed: bytes) -> array:
    values = array("I")
    values.frombytes(packed)
    return values


def packed_index(ids: array, user_id: int) -> int | None:
    index = bisect_left(ids, user_id)
    return index if index < len(ids) and ids[index] == user_id else None


def message(event: Event) -> dict[str, Any]:
    """The layer message of an event: its frame head, computed once, and each audience's
    data with its users (sorted) and their seqs in the same order."""
    audiences = [
        [audience.data_json, array("I", audience.user_ids).tobytes(), array("I", audience.seqs).tobytes()]
        for audience in event.audiences
    ]
    return {
        "type": MESSAGE_TYPE,
        "message_id": uuid.uuid4().hex,  # a hub skips the echo of one it was handed directly
        "head": _head(event.type, event.created_at),
        "event_type": event.type,
        "session_id": event.session_id,
        "committed_at": event.created_at.timestamp() if event.created_at else None,  # for the fan-out latency
        "relayed": event.relayed,
        "audiences": audiences,
    }


def socket_id() -> str:
    """A random id per socket; with the message's id it makes each frame's event_id unique."""
    return uuid.uuid4().hex[:16]


def frame_for(msg: dict[str, Any], user_id: int, socket: str) -> tuple[int, str] | None:
    """This user's (seq, text frame) from a layer message, or None if it is not theirs.

    The id and seq arrays are unpacked once per message and kept in it: a process's
    sockets share the message, and unpacking per socket made a fan-out to N sockets cost
    N times N ids (5,000 sockets copied 100 MB)."""
    audiences = msg.get("_unpacked")
    if audiences is None:
        audiences = msg["_unpacked"] = [
            (data_json, _unpack(ids), _unpack(seqs)) for data_json, ids, seqs in msg["audiences"]
        ]
    for data_json, ids, seqs in audiences:
        index = packed_index(ids, user_id)
        if index is not None:
            seq = seqs[index]
            head_start, head_end = msg["head"]
            return seq, f'{head_start}.{socket}{head_end}"seq":{seq},"data":{data_json}}}'
    return None


def _head(event_type: str, sent_at: datetime | None = None) -> tuple[str, str]:
    """The text of a frame before and after the socket's part of event_id."""
    sent = timezone.localtime(sent_at).isoformat()
    return (f'{{"type":{json.dumps(event_type)},"event_id":"{uuid.uuid4().hex}', f'","sent_at":"{sent}",')


def frame(event_type: str, data_json: str | None = None, sent_at: datetime | None = None, **top: Any) -> str:
    """A server frame `{"type", "event_id", "sent_at", ...top, "data"}` around encoded data."""
    head_start, head_end = _head(event_type, sent_at)
    extra = "".join(f"{json.dumps(key)}:{json.dumps(value)}," for key, value in top.items())
    body = f'"data":{data_json}' if data_json is not None else ""
    return f"{head_start}{head_end}{extra}{body}".rstrip(",") + "}"


def stored_frame(event: StoredEvent) -> str:
    """A frame replayed from the outbox: as it went out live, dated when its change committed."""
    return frame(event.type, event.data_json, event.created_at, seq=event.seq)


def sends_for(event: Event) -> list[tuple[str, dict[str, Any]]]:
    """Which groups get the event's one message, and the staff live views' nudge beside it
    (sent together, in one round trip)."""
    msg = message(event)
    nudge = (STAFF_GROUP, staff_message(event.type, event.recipients))
    if len(event.recipients) <= DIRECT_RECIPIENTS:
        return [*((user_group(user_id), msg) for user_id in event.recipients), nudge]
    return [(EVERYONE_GROUP, msg), nudge]


def staff_message(what: str, user_ids: Iterable[int] | None) -> dict[str, Any]:
    """`users`: the ids of the users the change concerns, packed as 32-bit integers; None
    (or, from an older process, absent) when it may concern anyone."""
    users = None if user_ids is None else array("I", user_ids).tobytes()
    return {"type": STAFF_MESSAGE_TYPE, "what": what, "users": users}


def staff_message_users(msg: dict[str, Any]) -> array | None:
    """The ids a staff message names, or None: it may concern anyone."""
    packed = msg.get("users")
    return None if packed is None else _unpack(packed)


async def tell_staff_async(what: str, user_ids: Iterable[int] | None) -> None:
    """Tell the staff live views that something changed, from an event loop (presence); a
    failure is only logged (the live view reads everything again every REFRESH_SECONDS)."""
    try:
        await get_channel_layer().group_send(STAFF_GROUP, staff_message(what, user_ids))
    except Exception:
        logger.info("could not tell staff of %s", what, exc_info=True)
