"""The Celery app: `celery -A halobestie worker` and `celery -A halobestie beat`."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")

app = Celery("halobestie")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _keep_django_logging(**kwargs) -> None:
    """The worker and beat log as the web processes do (settings.LOGGING: JSON lines with
    LOG_FORMAT=json), instead of Celery replacing the root logger's handlers."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_ready.connect
def _worker_up(**kwargs) -> None:
    from common.metrics import process_started

    process_started("worker")


@signals.beat_init.connect
def _beat_up(**kwargs) -> None:
    from common.metrics import process_started

    process_started("beat")
