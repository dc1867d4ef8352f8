"""Pushes for Prometheus: every attempt by kind and outcome (as `services.complete`
records it), the pushes queued for mitras with no open socket (and their withdrawals), and
the fallback pushes of contract section 12, from the tasks' results (Celery's task_postrun)."""

from __future__ import annotations

from typing import Any

from common import metrics

from .models import PushKind, PushStatus

ATTEMPTS = metrics.counter("push_attempts_total", "Push attempts to one device, by kind and outcome.",
                           ["kind", "outcome"])  # fmt: skip
OFFLINE = metrics.counter(
    "offline_pushes_total", "Pushes queued for mitras with no open socket, by kind (one per device).", ["kind"]
)
FALLBACKS = metrics.counter(
    "fallback_pushes_total",
    "Pushes queued because an app proved no offer delivered within push_fallback_seconds (one per device).",
)
QUEUEING_TASKS = {"pairing.tasks.push_new_request": PushKind.NEW_REQUEST,
                  "pairing.tasks.push_request_withdrawn": PushKind.WITHDRAWN}  # fmt: skip
FALLBACK_TASK = "pairing.tasks.push_unproven_offers"

for _kind in PushKind.values:  # every series exists from the start, at 0, for rate()
    OFFLINE.labels(_kind)
    for _status in PushStatus.values:
        ATTEMPTS.labels(_kind, _status)


def attempt_completed(kind: str, status: str) -> None:
    ATTEMPTS.labels(kind, status).inc()


def task_finished(sender: Any = None, retval: Any = None, **_: Any) -> None:
    name = getattr(sender, "name", "")
    if not (isinstance(retval, int) and retval):
        return
    if name == FALLBACK_TASK:
        FALLBACKS.inc(retval)
    elif name in QUEUEING_TASKS:
        OFFLINE.labels(QUEUEING_TASKS[name]).inc(retval)
