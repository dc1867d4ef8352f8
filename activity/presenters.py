"""What the request page draws, as JSON-ready data: the page renders it once, and its
script draws it again from `?format=json` whenever the staff socket says something
changed, so a pending request counts down and its timeline grows without a reload."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from pairing.lifecycle import SessionStatus
from pairing.models import ChatRequest

from .selectors import request_timeline
from .templatetags.activity import seconds_after


def _clock(value) -> str | None:
    return None if value is None else timezone.localtime(value).strftime("%H:%M:%S")


def request_state(session: ChatRequest) -> dict:
    return {
        "now": timezone.now().isoformat(),
        "status": session.status,
        "expire_reason": session.get_expire_reason_display() if session.expire_reason else "",
        "pending": session.status == SessionStatus.PENDING,
        "expires_at": session.expires_at.isoformat(),
        "mitra": {"name": session.mitra.name, "url": reverse("control-center:mitra-detail", args=[session.mitra_id])}
        if session.mitra_id
        else None,
        "to_accept": seconds_after(session.accepted_at, session.requested_at),
        "timeline": [
            {
                "at": timezone.localtime(entry.at).isoformat(),
                "shown": timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
                "what": entry.what,
                "who": entry.who,
                "detail": entry.detail,
            }
            for entry in request_timeline(session)
        ],
        "offers": [
            {
                "mitra": offer.mitra.name,
                "url": reverse("control-center:mitra-detail", args=[offer.mitra_id]),
                "notified": _clock(offer.notified_at),
                "delivered": _clock(offer.delivered_at),
                "via": offer.delivered_via or "",
                "seen": _clock(offer.seen_at),
                "answered": _clock(offer.responded_at),
                "response": offer.response or "pending",
                "response_time": offer.response_time_seconds,
                "active_sessions": offer.active_session_count,
            }
            for offer in session.offers.all()
        ],
    }
