"""Pushes for Prometheus: every recorded attempt by kind and outcome (Django's post_save
of PushAttempt), and the fallback pushes queued for mitras with no open socket (and their
withdrawals), from the tasks' results (Celery's task_postrun)."""

from __future__ import annotations

from typing import Any

from common import metrics

from .models import PushAttempt, PushKind, PushStatus

ATTEMPTS = metrics.counter("push_attempts_total", "Push attempts to one device, by kind and outcome.",
                           ["kind", "outcome"])  # fmt: skip
FALLBACKS = metrics.counter(
    "fallback_pushes_total", "Pushes queued for mitras with no open socket, by kind (one per device).", ["kind"]
)
QUEUEING_TASKS = {"pairing.tasks.push_new_request": PushKind.NEW_REQUEST,
                  "pairing.tasks.push_request_withdrawn": PushKind.WITHDRAWN}  # fmt: skip

for _kind in PushKind.values:  # every series exists from the start, at 0, for rate()
    FALLBACKS.labels(_kind)
    for _status in PushStatus.values:
        ATTEMPTS.labels(_kind, _status)


def attempt_recorded(sender: Any = None, instance: PushAttempt | None = None, created: bool = False, **_: Any) -> None:
    if created and instance is not None:
        ATTEMPTS.labels(instance.kind, instance.status).inc()


def task_finished(sender: Any = None, retval: Any = None, **_: Any) -> None:
    kind = QUEUEING_TASKS.get(getattr(sender, "name", ""))
    if kind is not None and isinstance(retval, int) and retval:
        FALLBACKS.labels(kind).inc(retval)


def connect() -> None:
    from django.db.models.signals import post_save

    post_save.connect(attempt_recorded, sender=PushAttempt, dispatch_uid="push.metrics.attempt_recorded")
