"""The product's metrics, wired up (PairingConfig.ready): each domain keeps its own in its
`metrics.py`, counted by subscribing, not by the services: to committed events (the bus,
like sockets and push), to Django's, django-axes' and Celery's signals. What only a web
process sees (its sockets, its fan-out passes) is called from single lines in realtime;
states (outbox lag, mitras online, overdue requests) are read when scraped
(settings.METRICS_COLLECTORS)."""

from __future__ import annotations

from typing import Any

from .accounts import metrics as accounts_metrics
from .events import metrics as events_metrics
from .events.bus import subscribe
from .push import metrics as push_metrics
from .requests import metrics as requests_metrics


def _task_finished(**kwargs: Any) -> None:
    events_metrics.task_finished(**kwargs)
    push_metrics.task_finished(**kwargs)


def connect() -> None:
    from celery import signals

    subscribe(requests_metrics.on_event)
    accounts_metrics.connect()
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="pairing.metrics.task_finished")
