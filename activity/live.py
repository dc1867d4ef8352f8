"""What the live operations page shows: requests waiting now with their offers'
progress, every mitra's state, and today's broadcast health, as one JSON-ready dict.

The staff socket (`activity.consumers`) sends this again whenever something changes;
the page renders it and counts down locally, so nothing in the browser polls.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from common.days import day_start
from pairing.lifecycle import ACTIVE_SESSION_STATUSES, OfferResponse, SessionStatus
from pairing.models import ChatRequest, MitraProfile, Role, User
from pairing.realtime.presence import online_mitra_ids

from . import selectors

logger = logging.getLogger(__name__)

PENDING_SHOWN = 200  # requests listed at once; the count is always whole


def snapshot() -> dict:
    now = timezone.now()
    waiting = (
        ChatRequest.objects.filter(status=SessionStatus.PENDING)  # overdue ones too, until the sweep says so
        .select_related("customer")
        .annotate(
            offered=Count("offers"),
            delivered=Count("offers", filter=Q(offers__delivered_at__isnull=False)),
            seen=Count("offers", filter=Q(offers__seen_at__isnull=False)),
            declined=Count("offers", filter=Q(offers__response=OfferResponse.REJECTED)),
        )
        .order_by("expires_at")
    )
    pending = [
        {
            "id": str(s.id),
            "url": reverse("control-center:request", args=[s.id]),
            "customer": s.customer.name,
            "minutes": s.duration_minutes,
            "requested_at": s.requested_at.isoformat(),
            "expires_at": s.expires_at.isoformat(),
            "offered": s.offered,
            "delivered": s.delivered,
            "seen": s.seen,
            "declined": s.declined,
        }
        for s in waiting[:PENDING_SHOWN]
    ]
    today = timezone.localdate()
    health = selectors.broadcast_health(day_start(today), day_start(today + timedelta(days=1)))
    return {
        "now": now.isoformat(),
        "time_zone": timezone.get_current_timezone_name(),
        "pending": pending,
        "pending_count": len(pending) if len(pending) < PENDING_SHOWN else waiting.count(),
        "mitras": mitra_states(),
        "today": health.__dict__,
    }


def mitra_states() -> dict:
    """Every mitra in one of four groups: in a session (with how many), available (online,
    switched on, free), online but switched off, and offline."""
    busy = dict(
        ChatRequest.objects.filter(status__in=ACTIVE_SESSION_STATUSES, mitra__isnull=False)
        .order_by().values("mitra_id").annotate(n=Count("id")).values_list("mitra_id", "n")
    )  # fmt: skip
    unavailable = set(MitraProfile.objects.filter(is_available=False).values_list("user_id", flat=True))
    try:
        online, known = online_mitra_ids(), True
    except Exception:  # Redis is down: say so rather than show everyone offline
        logger.warning("presence unknown", exc_info=True)
        online, known = set(), False
    groups: dict[str, list[dict]] = {"in_session": [], "available": [], "switched_off": [], "offline": []}
    for mitra in User.objects.filter(role=Role.MITRA, is_active=True).only("id", "username", "display_name"):
        entry = {"id": mitra.id, "name": mitra.name, "online": mitra.id in online,
                 "url": reverse("control-center:mitra-detail", args=[mitra.id])}  # fmt: skip
        if mitra.id in busy:
            groups["in_session"].append({**entry, "sessions": busy[mitra.id]})
        elif mitra.id not in online:
            groups["offline"].append(entry)
        elif mitra.id in unavailable:
            groups["switched_off"].append(entry)
        else:
            groups["available"].append(entry)
    for members in groups.values():
        members.sort(key=lambda m: m["name"].lower())
    return {**groups, "presence_known": known}
