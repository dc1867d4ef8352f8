"""Every Celery task of pairing, for Celery's autodiscovery; each is defined in its domain."""

from .events.tasks import prune_events, relay_events
from .push.tasks import push_new_request, push_request_withdrawn, push_unproven_offers, send_push
from .sessions.tasks import sweep

__all__ = [
    "prune_events", "push_new_request", "push_request_withdrawn", "push_unproven_offers", "relay_events", "send_push",
    "sweep",
]  # fmt: skip
