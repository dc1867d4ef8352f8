"""Reads of chat requests: what a mitra or a customer may see of them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from common.errors import NotFound

from ..accounts.models import User
from ..lifecycle import ACTIVE_SESSION_STATUSES, open_requests
from .models import ChatRequest, Offer


def active_session_count_sql(mitra_id_sql: str) -> tuple[str, list[str]]:
    """SQL counting a mitra's Sesi Aktif, and its parameters. `mitra_id_sql` is the
    mitra's id: a column of an outer query, or `%s`.

    By hand because it runs on hot paths: for every mitra inside the offer INSERT, and
    in `GET /api/mitra/me/`, where the ORM's compile of `.count()` took longer than the
    query itself.
    """
    statuses = [str(status) for status in ACTIVE_SESSION_STATUSES]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT COUNT(*) FROM {quote(ChatRequest._meta.db_table)}"
        f" WHERE {quote(ChatRequest._meta.get_field('mitra').column)} = {mitra_id_sql}"
        f" AND {quote(ChatRequest._meta.get_field('status').column)} IN ({', '.join(['%s'] * len(statuses))})"
    )
    return sql, statuses


def notifications_with_sessions() -> QuerySet[Offer]:
    return Offer.objects.select_related("session", "session__customer")


def pending_requests_for_mitra(mitra: User, now: datetime | None = None) -> list[Offer]:
    """The overlay queue: notified, still pending, unexpired and unanswered; oldest first."""
    now = now or timezone.now()
    return list(
        notifications_with_sessions()
        .filter(open_requests(now, via="session"), mitra=mitra, response__isnull=True)
        .order_by("session__requested_at", "session_id")
    )


def offer_for_mitra(mitra: User, session_id: UUID) -> Offer:
    try:
        return notifications_with_sessions().get(mitra=mitra, session_id=session_id)
    except Offer.DoesNotExist:
        raise NotFound() from None


def history_for_mitra(mitra: User, limit: int = 20) -> list[Offer]:
    return list(Offer.objects.select_related("session").filter(mitra=mitra).order_by("-notified_at", "-id")[:limit])


def session_for_customer(customer: User, session_id: UUID) -> ChatRequest:
    try:
        return ChatRequest.objects.select_related("customer", "mitra").get(id=session_id, customer=customer)
    except ChatRequest.DoesNotExist:
        raise NotFound() from None


def unproven_offer_ids(pairs: list[tuple[int, str]]) -> list[int]:
    """The ids of the offers (mitra id, session id) not yet proven delivered: one query on
    PostgreSQL (the pairs as arrays), whatever their number; SQLite, a developer's, asks
    mitra by mitra."""
    if not pairs:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT o.id FROM {Offer._meta.db_table} o"
                " JOIN unnest(%s::int[], %s::uuid[]) AS p (mitra_id, session_id)"
                " ON o.mitra_id = p.mitra_id AND o.session_id = p.session_id"
                " WHERE o.delivered_at IS NULL",
                [[mitra_id for mitra_id, _ in pairs], [session_id for _, session_id in pairs]],
            )
            return [row[0] for row in cursor.fetchall()]
    by_mitra: dict[int, list[str]] = {}
    for mitra_id, session_id in pairs:
        by_mitra.setdefault(mitra_id, []).append(session_id)
    return [
        offer_id
        for mitra_id, session_ids in by_mitra.items()
        for offer_id in Offer.objects.filter(
            mitra_id=mitra_id, session_id__in=session_ids, delivered_at__isnull=True
        ).values_list("id", flat=True)
    ]
