"""Delivery of real-time events to sockets, through the channels-redis pub/sub layer.

A fan-out is one PUBLISH, whatever the number of mitras: every mitra socket is in
the `mitras` group, and the message carries each distinct view once (already JSON)
with the sorted ids of the mitras it is for, packed as 32-bit integers. Each daphne
process receives the message once; each socket checks its own id by binary search
and sends the frame without building the view again.

Publishing from sync code (request threads, Celery) goes through one event loop per
process, kept on a daemon thread, so a process holds one Redis connection for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

MITRAS_GROUP = "mitras"
MESSAGE_TYPE = "pairing.event"  # handled by the consumers' `pairing_event` method
PUBLISH_TIMEOUT_SECONDS = 5


def mitra_group(mitra_id: int) -> str:
    return f"mitra.{mitra_id}"


def customer_group(customer_id: int) -> str:
    return f"customer.{customer_id}"


def encode(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def pack_ids(ids: Iterable[int]) -> bytes:
    return array("I", sorted(set(ids))).tobytes()


def packed_contains(packed: bytes, user_id: int) -> bool:
    ids = array("I")
    ids.frombytes(packed)
    index = bisect_left(ids, user_id)
    return index < len(ids) and ids[index] == user_id


def message(event: str, audiences: list[tuple[Any, Iterable[int]]]) -> dict[str, Any]:
    """A layer message: for each (data, user ids), the frame data those users get.

    Everything a frame needs is computed here once, not once per socket: the frame's
    head (type, an id shared by this message, sent_at) and each audience's data.
    """
    return {
        "type": MESSAGE_TYPE,
        "head": _head(event),
        "audiences": [[encode(data), pack_ids(ids)] for data, ids in audiences],
    }


def socket_id() -> str:
    """A random id per socket; with the message's id it makes each frame's event_id unique."""
    return uuid.uuid4().hex[:16]


def frame_for(msg: dict[str, Any], user_id: int, socket: str) -> str | None:
    """The text frame this user's socket gets from a layer message, or None if not theirs."""
    for data_json, packed in msg["audiences"]:
        if packed_contains(packed, user_id):
            head_start, head_end = msg["head"]
            return f"{head_start}.{socket}{head_end}{data_json}}}"
    return None


def _head(event: str) -> tuple[str, str]:
    """The text of a frame before and after the socket's part of event_id."""
    sent_at = timezone.localtime().isoformat()
    return (f'{{"type":{json.dumps(event)},"event_id":"{uuid.uuid4().hex}', f'","sent_at":"{sent_at}","data":')


def frame(event: str, data_json: str) -> str:
    """A server frame `{"type", "event_id", "sent_at", "data"}` around already-encoded data."""
    head_start, head_end = _head(event)
    return f"{head_start}{head_end}{data_json}}}"


# --- publishing from sync code ------------------------------------------------


class _Publisher:
    """An event loop on a daemon thread, one per process (re-made after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="event-publisher", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def publish(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        if not sends:
            return
        layer = get_channel_layer()

        async def send_all() -> None:
            await asyncio.gather(*(layer.group_send(group, msg) for group, msg in sends))

        future = asyncio.run_coroutine_threadsafe(send_all(), self._ensure_loop())
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS)


_publisher = _Publisher()


def publish(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Send layer messages to groups: [(group, message)], all at once."""
    _publisher.publish(sends)
