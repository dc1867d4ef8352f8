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
from datetime import datetime
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
    """A layer message: for each (data, user ids), the frame data those users get."""
    return {
        "type": MESSAGE_TYPE,
        "event": event,
        "audiences": [[encode(data), pack_ids(ids)] for data, ids in audiences],
    }


def frame_for(msg: dict[str, Any], user_id: int) -> str | None:
    """The text frame this user gets from a layer message, or None if it is not for them."""
    for data_json, packed in msg["audiences"]:
        if packed_contains(packed, user_id):
            return frame(msg["event"], data_json)
    return None


def frame(event: str, data_json: str, sent_at: datetime | None = None) -> str:
    """A server frame `{"type", "event_id", "sent_at", "data"}` around already-encoded data."""
    sent_at = timezone.localtime(sent_at or timezone.now())
    return (
        f'{{"type":{json.dumps(event)},"event_id":"{uuid.uuid4().hex}",'
        f'"sent_at":"{sent_at.isoformat()}","data":{data_json}}}'
    )


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
