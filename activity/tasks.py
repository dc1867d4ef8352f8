from celery import shared_task

from . import services


@shared_task(name="activity.tasks.roll_up", ignore_result=True)
def roll_up() -> int:
    """Roll up the activity log's final days for the control center."""
    return len(services.roll_up_final_days())
