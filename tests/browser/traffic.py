"""A little of everything the control center shows, made today: a request in every status
(two still waiting), an offer with every response and one with none yet, delivered and
seen offers, a mitra whose app never acknowledges, and force-closes flagged and reviewed."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from pairing.lifecycle import OfferResponse, SessionStatus
from pairing.models import ChatRequest, Offer, SessionClosure
from tests.support import make_account

R = OfferResponse


def make_traffic(mitras: dict, staff) -> dict:
    """`mitras`: name -> Account (ayu, budi, citra, dewi). Returns the ids a test opens."""
    now = timezone.now()
    ayu, budi, citra, dewi = (mitras[name].user for name in ("ayu", "budi", "citra", "dewi"))
    made: dict = {}

    def request(status: str, minutes_ago: float, mitra=None, **fields) -> ChatRequest:
        customer = make_account("customer").user
        requested = now - timedelta(minutes=minutes_ago)
        return ChatRequest.objects.create(
            customer=customer, mitra=mitra, status=status, duration_minutes=30, requested_at=requested,
            expires_at=requested + timedelta(seconds=60), **fields,
        )  # fmt: skip

    def offer(session, mitra, response=None, delivered=True, seen=False, seconds=4.0, active=0) -> Offer:
        notified = session.requested_at + timedelta(seconds=1)
        answered = notified + timedelta(seconds=seconds) if response in (R.ACCEPTED, R.REJECTED) else None
        return Offer.objects.create(
            session=session, mitra=mitra, notified_at=notified, active_session_count=active, response=response,
            responded_at=answered, response_time_seconds=seconds if answered else None,
            resolved_at=notified + timedelta(seconds=60) if response in (R.IGNORED, R.MISSED, R.CANCELLED) else None,
            delivered_at=notified + timedelta(milliseconds=300) if delivered else None,
            delivered_via="websocket" if delivered else None, seen_at=notified + timedelta(seconds=1) if seen else None,
        )  # fmt: skip

    # Two requests waiting now: one delivered and seen, one that reached nobody.
    for minutes_ago, delivered in ((0.1, True), (0.2, False)):
        waiting = request(SessionStatus.PENDING, minutes_ago)
        waiting.expires_at = now + timedelta(seconds=50)
        waiting.save(update_fields=["expires_at"])
        offer(waiting, ayu, delivered=delivered, seen=delivered)
        offer(waiting, dewi, delivered=False)
        made.setdefault("pending", str(waiting.id))
    # Every outcome, and every response of an offer.
    accepted = request(SessionStatus.ACTIVE, 3, mitra=budi, accepted_at=now - timedelta(minutes=3))
    offer(accepted, budi, R.ACCEPTED, seen=True, seconds=2.5)
    offer(accepted, citra, R.MISSED)
    offer(accepted, ayu, R.REJECTED, seconds=1.5)
    made["active"] = str(accepted.id)
    request(SessionStatus.ACTIVE, 20, mitra=citra, accepted_at=now - timedelta(minutes=20))
    closing = request(SessionStatus.CLOSING, 30, mitra=ayu, accepted_at=now - timedelta(minutes=30),
                      closing_started_at=now - timedelta(minutes=1))  # fmt: skip
    offer(closing, ayu, R.ACCEPTED, seconds=6)
    closed = request(SessionStatus.CLOSED, 90, mitra=ayu, accepted_at=now - timedelta(minutes=90),
                     closed_at=now - timedelta(minutes=60))  # fmt: skip
    offer(closed, ayu, R.ACCEPTED, seconds=3)
    offer(closed, budi, R.IGNORED)
    made["closed"] = str(closed.id)
    cancelled = request(SessionStatus.CANCELLED, 40, cancelled_at=now - timedelta(minutes=40))
    offer(cancelled, citra, R.CANCELLED)
    for reason in ("timeout", "all_declined", "no_mitra_available"):
        expired = request(SessionStatus.EXPIRED, 50, expire_reason=reason, expired_at=now - timedelta(minutes=49))
        offer(expired, dewi, R.IGNORED, delivered=False)
    made["expired"] = str(expired.id)
    # Force-closes: one flagged and waiting for review, one flagged and reviewed.
    for minutes_ago, reviewed in ((120, False), (150, True)):
        session = request(SessionStatus.CLOSED, minutes_ago, mitra=citra,
                          accepted_at=now - timedelta(minutes=minutes_ago))  # fmt: skip
        SessionClosure.objects.create(
            session=session, initiated_by="mitra", initiator=citra, reason_code="other",
            reason_note="Customer was rude", needs_review=True, created_at=now - timedelta(minutes=minutes_ago - 5),
            reviewed_at=now - timedelta(minutes=10) if reviewed else None, reviewed_by=staff if reviewed else None,
            review_note="Spoke to the mitra" if reviewed else "",
        )  # fmt: skip
    return made
