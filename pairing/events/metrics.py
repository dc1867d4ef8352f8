"""The outbox for Prometheus: how old the oldest event not yet handed to every subscriber
is (read when scraped), and how many events the relay handed over again."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from common import metrics

from . import outbox
from .models import EventBatch

RELAY_TASK = "pairing.tasks.relay_events"
PRUNE_TASK = "pairing.tasks.prune_events"
RELAYED = metrics.counter(
    "outbox_relayed_events_total", "Committed events the relay handed over again (a subscriber had failed them)."
)
PRUNED = metrics.counter("outbox_pruned_rows_total", "user_events rows the outbox's pruning deleted.")


def task_finished(sender: Any = None, retval: Any = None, **_: Any) -> None:
    """Celery's task_postrun: the relay returns how many events it handed over, the
    pruning how many rows it deleted."""
    name = getattr(sender, "name", None)
    if name == RELAY_TASK and isinstance(retval, int):
        RELAYED.inc(retval)
    elif name == PRUNE_TASK and isinstance(retval, int):
        PRUNED.inc(retval)


class OutboxCollector:
    """Outbox lag: the age of the oldest committed event some subscriber has not taken
    (0 when none), from the partial index on undispatched batches. Like the relay, it
    looks back only as far as the outbox keeps events: older ones are left to the
    clients' resync, and an outage's last events stop counting after KEEP_FOR."""

    def collect(self):
        now = timezone.now()
        found = EventBatch.objects.filter(dispatched_at__isnull=True, created_at__gte=now - outbox.KEEP_FOR).aggregate(
            oldest=Min("created_at"), n=Count("id")
        )
        lag = max(0.0, (now - found["oldest"]).total_seconds()) if found["oldest"] else 0.0
        yield metrics.state("outbox_lag_seconds", "Age of the oldest event some subscriber has not taken.", lag)
        yield metrics.state("outbox_undispatched_events", "Committed events some subscriber has not taken.", found["n"])
