"""Every Celery task of pairing, for Celery's autodiscovery; each is defined in its domain."""

from .push.tasks import push_new_request, push_request_withdrawn, send_push
from .sessions.tasks import sweep

__all__ = ["push_new_request", "push_request_withdrawn", "send_push", "sweep"]
