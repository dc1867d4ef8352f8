"""The beat sweep: requests past their deadline expire, sessions move to closing and closed."""

from __future__ import annotations

from celery import shared_task

from ..requests.services import expire_overdue_requests
from .services import advance_sessions


@shared_task(name="pairing.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """Idempotent; concurrent runs skip each other's rows. Returns how many rows moved."""
    expired = expire_overdue_requests()
    started, closed = advance_sessions()
    return len(expired) + len(started) + len(closed)
