"""Read queries of the pairing app: what a mitra or customer may see."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from halobestie.days import day_start

from .exceptions import NotFound
from .models import (
    ACTIVE_SESSION_STATUSES,
    ChatRequestNotification,
    ChatSession,
    ClosureInitiator,
    MitraProfile,
    SessionClosure,
    SessionStatus,
    User,
)


def notifications_with_sessions() -> QuerySet[ChatRequestNotification]:
    return ChatRequestNotification.objects.select_related("session", "session__customer")


def pending_requests_for_mitra(mitra: User, now: datetime | None = None) -> list[ChatRequestNotification]:
    """The overlay queue: notified, still pending, unexpired and unanswered; oldest first."""
    now = now or timezone.now()
    return list(
        notifications_with_sessions()
        .filter(
            mitra=mitra,
            response__isnull=True,
            session__status=SessionStatus.PENDING,
            session__expires_at__gt=now,
        )
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


def active_sessions_for_mitra(mitra: User) -> QuerySet[ChatSession]:
    """Sesi Aktif: the sessions `active_session_count` counts."""
    return (
        ChatSession.objects.select_related("customer", "mitra")
        .filter(mitra=mitra, status__in=ACTIVE_SESSION_STATUSES)
        .order_by("accepted_at", "id")
    )


def active_session_count(mitra: User) -> int:
    return active_sessions_for_mitra(mitra).count()


def mitra_profile(mitra: User) -> MitraProfile:
    profile, _ = MitraProfile.objects.get_or_create(user=mitra)
    return profile


def early_ends_on_day(mitra: User, day: date) -> int:
    """The mitra's own early ends on a calendar day of the control center's time zone."""
    start = day_start(day)
    return SessionClosure.objects.filter(
        initiator=mitra,
        initiated_by=ClosureInitiator.MITRA,
        created_at__gte=start,
        created_at__lt=start + timedelta(days=1),
    ).count()
