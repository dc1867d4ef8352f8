"""The one call a state change makes to say what happened and to whom.

    send_event_on_commit(event_type="chat_request.new", audiences=[(view, mitra_ids)])

Each audience is the data some users get (a mitra's view of a request differs by its
own response, so one event can carry several). Nothing is delivered unless the change
commits; then every subscriber (sockets, push) is handed the event. A subscriber that
fails is logged and never turns a committed change into an error. Subscribers are
connected in `PairingConfig.ready`, so a new audience is one new subscriber, not an
edit to every state change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)


def encode(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Audience:
    data: dict[str, Any]
    data_json: str
    user_ids: tuple[int, ...]


@dataclass
class Event:
    type: str
    audiences: list[Audience]
    recipients: list[int] = field(default_factory=list)

    @property
    def session_id(self) -> str | None:
        """The request or session the event is about (every pairing event has one)."""
        data = self.audiences[0].data if self.audiences else {}
        value = data.get("session_id")
        return str(value) if value is not None else None


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def send_event_on_commit(*, event_type: str, audiences: Iterable[tuple[dict[str, Any], Iterable[int]]]) -> None:
    """Announce an event to users once the current transaction commits."""
    built = [Audience(data, encode(data), tuple(sorted(set(ids)))) for data, ids in audiences]
    built = [audience for audience in built if audience.user_ids]
    if not built:
        return
    event = Event(event_type, built, sorted({uid for audience in built for uid in audience.user_ids}))
    transaction.on_commit(lambda: dispatch(event))


def dispatch(event: Event) -> bool:
    """Hand a committed event to every subscriber; True if all of them took it."""
    delivered = True
    for subscriber in _subscribers:
        try:
            subscriber(event)
        except Exception:
            delivered = False
            logger.exception(
                "event %s: subscriber %s failed", event.type, getattr(subscriber, "__qualname__", subscriber)
            )
    return delivered
