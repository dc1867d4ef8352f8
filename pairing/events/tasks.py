"""The relay and the pruning of the outbox, run by beat."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from . import outbox
from .bus import dispatch_all

logger = logging.getLogger(__name__)
# Where the last run of the pruning stopped, if its time budget ran out (lost: it starts over).
PRUNE_RESUME_KEY = "outbox-prune-resume-after"


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
    """Drop the events the outbox no longer keeps, for at most EVENTS_PRUNE_SECONDS; a run
    that used up its budget leaves where it stopped for the next one. Returns how many
    user_events rows went."""
    pruned = outbox.prune(
        timezone.now(), budget_seconds=settings.EVENTS_PRUNE_SECONDS, after=cache.get(PRUNE_RESUME_KEY, 0)
    )
    cache.set(PRUNE_RESUME_KEY, pruned.resume_after or 0, timeout=None)
    log = logger.info if pruned.finished else logger.warning
    log("outbox pruned: %d user_events rows and %d batches in %.1f s%s", pruned.user_events, pruned.batches,
        pruned.seconds, "" if pruned.finished else ", time budget used up with old rows left")  # fmt: skip
    return pruned.user_events
