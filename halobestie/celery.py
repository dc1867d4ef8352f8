"""The Celery app: `celery -A halobestie worker` and `celery -A halobestie beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")

app = Celery("halobestie")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
