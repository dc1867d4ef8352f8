"""Reads of sessions: Sesi Aktif, and a mitra's early ends on a day."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.db.models import QuerySet

from common.days import day_start

from ..accounts.models import User
from ..lifecycle import ACTIVE_SESSION_STATUSES
from ..requests.models import ChatRequest
from ..requests.selectors import active_session_count_sql
from .models import ClosureInitiator, SessionClosure


def active_sessions_for_mitra(mitra: User) -> QuerySet[ChatRequest]:
    """Sesi Aktif: the sessions `active_session_count` counts."""
    return (
        ChatRequest.objects.select_related("customer", "mitra")
        .filter(mitra=mitra, status__in=ACTIVE_SESSION_STATUSES)
        .order_by("accepted_at", "id")
    )


def active_session_count(mitra: User) -> int:
    sql, params = active_session_count_sql("%s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [mitra.pk, *params])
        return cursor.fetchone()[0]


def early_ends_on_day(mitra: User, day: date) -> int:
    """The mitra's own early ends on a calendar day of the control center's time zone."""
    start = day_start(day)
    return SessionClosure.objects.filter(
        initiator=mitra,
        initiated_by=ClosureInitiator.MITRA,
        created_at__gte=start,
        created_at__lt=start + timedelta(days=1),
    ).count()
