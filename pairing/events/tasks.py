"""The relay and the pruning of the outbox, run by beat."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import outbox
from .bus import dispatch_all


@shared_task(name="pairing.tasks.relay_events", ignore_result=True)
def relay_events() -> int:
    """Hand over again every committed event some subscriber did not take (Redis or the
    broker was down at commit). Sockets drop a copy they already sent; pushes skip
    devices already pushed. Events older than the outbox keeps are left to resync."""
    now = timezone.now()
    events = outbox.undispatched(
        older_than=now - timedelta(seconds=settings.EVENTS_RELAY_AFTER_SECONDS), not_before=now - outbox.KEEP_FOR
    )
    dispatch_all(events)
    return len(events)


@shared_task(name="pairing.tasks.prune_events", ignore_result=True)
def prune_events() -> int:
    return outbox.prune(timezone.now())
