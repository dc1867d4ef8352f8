"""Celery tasks of pairing. Beat runs `sweep` every SWEEP_INTERVAL_SECONDS."""

from celery import shared_task

from . import services


@shared_task(name="pairing.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """Expire overdue requests. Idempotent; concurrent runs skip each other's rows."""
    return len(services.expire_overdue_requests())
