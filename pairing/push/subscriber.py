"""Push's subscriber to committed events: offers to mitras with no open socket, and
withdrawals of offers that were pushed."""

from __future__ import annotations

from common.chunks import chunks

from ..events.bus import Event
from ..realtime import presence
from . import tasks

WITHDRAWING_EVENTS = {"chat_request.taken", "chat_request.cancelled", "chat_request.expired"}
# Offline mitras per push task: a fan-out to any number of mitras queues tasks of a bounded
# size, and each task's device lookup binds a bounded number of ids.
MITRAS_PER_TASK = 1000


def on_event(event: Event) -> None:
    if event.type == "chat_request.new":
        offline = sorted(set(event.recipients) - presence.online_mitra_ids(event.recipients))
        for some in chunks(offline, MITRAS_PER_TASK):
            tasks.push_new_request.delay(event.session_id, some)
    elif event.type in WITHDRAWING_EVENTS:
        tasks.push_request_withdrawn.delay(event.session_id)
