"""Reads of chat requests: what a mitra or a customer may see of them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from common.errors import NotFound

from ..accounts.models import User
from ..lifecycle import open_requests
from .models import ChatRequestNotification, ChatSession


def notifications_with_sessions() -> QuerySet[ChatRequestNotification]:
    return ChatRequestNotification.objects.select_related("session", "session__customer")


def pending_requests_for_mitra(mitra: User, now: datetime | None = None) -> list[ChatRequestNotification]:
    """The overlay queue: notified, still pending, unexpired and unanswered; oldest first."""
    now = now or timezone.now()
    return list(
        notifications_with_sessions()
        .filter(open_requests(now, via="session"), mitra=mitra, response__isnull=True)
        .order_by("session__requested_at", "session_id")
    )


def notification_for_mitra(mitra: User, session_id: UUID) -> ChatRequestNotification:
    try:
        return notifications_with_sessions().get(mitra=mitra, session_id=session_id)
    except ChatRequestNotification.DoesNotExist:
        raise NotFound() from None


def history_for_mitra(mitra: User, limit: int = 20) -> list[ChatRequestNotification]:
    return list(
        ChatRequestNotification.objects.select_related("session")
        .filter(mitra=mitra)
        .order_by("-notified_at", "-id")[:limit]
    )


def session_for_customer(customer: User, session_id: UUID) -> ChatSession:
    try:
        return ChatSession.objects.select_related("customer", "mitra").get(id=session_id, customer=customer)
    except ChatSession.DoesNotExist:
        raise NotFound() from None
