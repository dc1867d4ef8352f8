"""Push's subscriber to committed events: offers to mitras with no open socket, and
withdrawals of offers that were pushed."""

from __future__ import annotations

from ..events.bus import Event
from ..realtime import presence
from . import tasks

WITHDRAWING_EVENTS = {"chat_request.taken", "chat_request.cancelled", "chat_request.expired"}


def on_event(event: Event) -> None:
    if event.type == "chat_request.new":
        offline = sorted(set(event.recipients) - presence.online_mitra_ids(event.recipients))
        if offline:
            tasks.push_new_request.delay(event.session_id, offline)
    elif event.type in WITHDRAWING_EVENTS:
        tasks.push_request_withdrawn.delay(event.session_id)
