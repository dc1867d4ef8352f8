"""Requests and offers for Prometheus, counted from the committed events that announce
them (a subscriber to the bus, like sockets and push), plus the proofs of delivery and
the oldest overdue request (read when scraped)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from common import metrics

from ..events.bus import Event
from ..lifecycle import ExpireReason, overdue_requests
from .models import ChatRequest, DeliveredVia

RELAY_TASK = "pairing.tasks.relay_events"

CREATED = metrics.counter("chat_requests_created_total", "Chat requests created (with or without a mitra to offer).")
ACCEPTED = metrics.counter("chat_requests_accepted_total", "Chat requests accepted by a mitra.")
SHED = metrics.counter(
    "chat_requests_shed_total", "Chat requests refused because event delivery was behind (503, reason busy)."
)
CANCELLED = metrics.counter("chat_requests_cancelled_total", "Chat requests cancelled by their customer.")
EXPIRED = metrics.counter("chat_requests_expired_total", "Chat requests expired, by reason.", ["reason"])
NOTIFIED = metrics.counter("offers_notified_total", "Offers of a request to a mitra (one per mitra per request).")
DELIVERED = metrics.counter("offers_delivered_total", "Offers proved delivered to the mitra's app, by how.", ["via"])
SEEN = metrics.counter("offers_seen_total", "Offers shown on the mitra's screen.")
EXPIRY_LATENESS = metrics.histogram(
    "request_expiry_lateness_seconds",
    "How long after its deadline a request that timed out was expired.",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)

for _reason in ExpireReason.values:  # every series exists from the start, at 0, for rate()
    EXPIRED.labels(_reason)
for _via in DeliveredVia.values:
    DELIVERED.labels(_via)


def _relayed() -> bool:
    """Whether the relay is handing this event over again: it was counted at its commit."""
    from celery import current_task

    return bool(current_task) and current_task.name == RELAY_TASK


def on_event(event: Event) -> None:
    """The bus's subscriber: one committed event, counted once."""
    if event.type not in COUNTED or _relayed():
        return
    COUNTED[event.type](event)


def _new(event: Event) -> None:
    CREATED.inc()
    NOTIFIED.inc(len(event.recipients))


def _expired(event: Event) -> None:
    data = event.audiences[0].data
    reason = data.get("expire_reason") or ExpireReason.TIMEOUT
    EXPIRED.labels(reason).inc()
    if reason == ExpireReason.NO_MITRA_AVAILABLE:
        CREATED.inc()  # created and expired at once: no chat_request.new announced it
    elif reason == ExpireReason.TIMEOUT and data.get("expires_at"):
        expired_at = event.created_at or timezone.now()
        deadline = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        EXPIRY_LATENESS.observe(max(0.0, (expired_at - deadline).total_seconds()))


COUNTED = {
    "chat_request.new": _new,
    "session.accepted": lambda event: ACCEPTED.inc(),
    "session.cancelled": lambda event: CANCELLED.inc(),
    "session.expired": _expired,
}


def offers_delivered(via: str, count: int) -> None:
    if count:
        transaction.on_commit(lambda: DELIVERED.labels(via).inc(count))


def offer_seen() -> None:
    transaction.on_commit(SEEN.inc)


class OverdueCollector:
    """How late the most overdue pending request is: the sweep expires each within about
    one interval, so a value growing past a few seconds is a sweep not running."""

    def collect(self):
        now = timezone.now()
        oldest = ChatRequest.objects.filter(overdue_requests(now)).aggregate(oldest=Min("expires_at"))["oldest"]
        yield metrics.state(
            "requests_overdue_seconds",
            "How long past its deadline the most overdue pending request is.",
            (now - oldest).total_seconds() if oldest else 0.0,
        )


def request_shed() -> None:
    SHED.inc()
