import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="activity.tasks.roll_up", ignore_result=True)
def roll_up() -> int:
    """Roll up the activity log's final days for the control center."""
    return len(services.roll_up_final_days())


@shared_task(name="activity.tasks.prune_log", ignore_result=True)
def prune_log() -> int:
    """Delete the activity log's rows past its retention, day by day once rolled up."""
    deleted = services.prune_log()
    logger.info("activity log pruned: %(offers)d log rows and %(push_attempts)d push attempts", deleted)
    return deleted["offers"]
