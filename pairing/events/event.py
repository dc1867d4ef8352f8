"""What an event is: its type, and each audience's data with the users (and their seqs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def encode(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Audience:
    """Some users and the data they get. `user_ids` is sorted; `seqs` follow its order."""

    data: dict[str, Any]
    data_json: str
    user_ids: tuple[int, ...]
    seqs: tuple[int, ...] = ()  # each user's number for this event, once written


@dataclass
class Event:
    type: str
    audiences: list[Audience]
    batch_id: int | None = None
    created_at: datetime | None = None
    relayed: bool = False  # handed over again by the relay, after a fault: its age is not load

    @cached_property
    def recipients(self) -> list[int]:
        return sorted({user_id for audience in self.audiences for user_id in audience.user_ids})

    @property
    def session_id(self) -> str | None:
        """The request or session the event is about (every pairing event has one)."""
        data = self.audiences[0].data if self.audiences else {}
        value = data.get("session_id")
        return str(value) if value is not None else None
