"""The lifecycle rules of a chat request and the session it becomes, in one place.

A request is a session in status `pending`. The stored status lags the clock by up to
one sweep interval, so every reader asks this module what the status is *now*:
services (which expire an overdue request before refusing it), selectors, presenters
and the sweep all import these rules downward; this module imports no other module of
the project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.db import models
from django.db.models import Q


class SessionStatus(models.TextChoices):
    PENDING = "pending"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"


class ExpireReason(models.TextChoices):
    TIMEOUT = "timeout"
    ALL_DECLINED = "all_declined"
    NO_MITRA_AVAILABLE = "no_mitra_available"


class OfferResponse(models.TextChoices):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSED = "missed"
    IGNORED = "ignored"
    CANCELLED = "cancelled"


class RequestStatus(models.TextChoices):
    """A request as one notified mitra sees it."""

    PENDING = "pending"
    ACCEPTED = "accepted"  # by this mitra
    TAKEN = "taken"  # by another mitra
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# A session in one of these may be ended early, and moves to closing when time is up.
# (The contract also names `extending`, for a paid extension no flow offers yet: nothing sets it.)
RUNNING_STATUSES = (SessionStatus.ACTIVE,)
# The sessions a mitra is "in": Sesi Aktif lists them and active_session_count counts them.
ACTIVE_SESSION_STATUSES = (*RUNNING_STATUSES, SessionStatus.CLOSING)
# A session in one of these was accepted by its mitra.
ACCEPTED_SESSION_STATUSES = (*ACTIVE_SESSION_STATUSES, SessionStatus.CLOSED)
# A mitra's own answers; the other responses are written by the system.
OWN_ANSWERS = (OfferResponse.ACCEPTED, OfferResponse.REJECTED)


class SessionLike(Protocol):
    status: str
    expire_reason: str | None
    expires_at: datetime
    ends_at: datetime | None
    grace_ends_at: datetime | None
    mitra_id: int | None


def is_overdue(session: SessionLike, now: datetime) -> bool:
    """A pending request whose time ran out: no accept may succeed, swept or not."""
    return session.status == SessionStatus.PENDING and now >= session.expires_at


def is_time_up(session: SessionLike, now: datetime) -> bool:
    """A running session whose booked time has passed: it goes to closing (time_up)."""
    return session.status in RUNNING_STATUSES and session.ends_at is not None and now >= session.ends_at


def effective_status(session: SessionLike, now: datetime) -> tuple[str, str | None]:
    """The session's status and expire reason as of `now`."""
    if is_overdue(session, now):
        return SessionStatus.EXPIRED, ExpireReason.TIMEOUT
    return session.status, session.expire_reason


def request_status(session: SessionLike, mitra_id: int, now: datetime) -> str:
    """pending | accepted (by this mitra) | taken (by another) | cancelled | expired."""
    status, _ = effective_status(session, now)
    if status in (SessionStatus.PENDING, SessionStatus.CANCELLED, SessionStatus.EXPIRED):
        return status
    return RequestStatus.ACCEPTED if session.mitra_id == mitra_id else RequestStatus.TAKEN


def my_response(response: str | None, status: str) -> str | None:
    """The mitra's response as shown: an unanswered overdue request reads `ignored`,
    which is what the sweep will write."""
    if response is None and status == RequestStatus.EXPIRED:
        return OfferResponse.IGNORED
    return response


def can_respond(response: str | None, status: str) -> bool:
    return status == RequestStatus.PENDING and response is None


# The same rules as queries, for the sweep and the selectors. `via` names the relation
# to the session when the query is on another model ("session" for log rows).
def _q(via: str, **lookups: object) -> Q:
    prefix = f"{via}__" if via else ""
    return Q(**{f"{prefix}{key}": value for key, value in lookups.items()})


def overdue_requests(now: datetime, via: str = "") -> Q:
    return _q(via, status=SessionStatus.PENDING, expires_at__lte=now)


def open_requests(now: datetime, via: str = "") -> Q:
    """Pending and not overdue: the requests a mitra may still accept."""
    return _q(via, status=SessionStatus.PENDING, expires_at__gt=now)


def sessions_time_up(now: datetime) -> Q:
    return Q(status__in=RUNNING_STATUSES, ends_at__lte=now)


def sessions_grace_over(now: datetime) -> Q:
    return Q(status=SessionStatus.CLOSING, grace_ends_at__lte=now)
