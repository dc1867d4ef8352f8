"""How a request and a session look to clients: one builder for REST, WebSocket and push.

The stored status lags the clock by up to one sweep interval, so both builders show
an overdue pending request as expired (reason `timeout`): a client never sees live
buttons on a request that can no longer be accepted.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.utils import timezone

from .messages import REQUEST_MESSAGES
from .models import ChatRequestNotification, ChatSession, ExpireReason, NotificationResponse, SessionStatus
from .serializers import RequestViewSerializer, SessionSerializer


def is_overdue(session: ChatSession, now: datetime) -> bool:
    return session.status == SessionStatus.PENDING and now >= session.expires_at


def effective_status(session: ChatSession, now: datetime) -> tuple[str, str | None]:
    """The session's status and expire reason as of `now`."""
    if is_overdue(session, now):
        return SessionStatus.EXPIRED, ExpireReason.TIMEOUT
    return session.status, session.expire_reason


def request_status(notification: ChatRequestNotification, now: datetime) -> str:
    """pending | accepted (by this mitra) | taken (by another) | cancelled | expired."""
    session = notification.session
    status, _ = effective_status(session, now)
    if status in (SessionStatus.PENDING, SessionStatus.CANCELLED, SessionStatus.EXPIRED):
        return status
    return "accepted" if session.mitra_id == notification.mitra_id else "taken"


def request_view(notification: ChatRequestNotification, now: datetime | None = None) -> dict[str, Any]:
    """The request as the notified mitra sees it (contract section 4)."""
    now = now or timezone.now()
    session = notification.session
    status = request_status(notification, now)
    my_response = notification.response
    if my_response is None and status == "expired":
        my_response = NotificationResponse.IGNORED  # what the sweep will record
    seconds_left = 0
    if status == "pending":
        seconds_left = max(0, math.ceil((session.expires_at - now).total_seconds()))
    view = {
        "session_id": session.id,
        "status": status,
        "can_respond": status == "pending" and notification.response is None,
        "message": REQUEST_MESSAGES.get(status),
        "my_response": my_response,
        "duration_minutes": session.duration_minutes,
        "customer": {"display_name": session.customer.name},
        "requested_at": session.requested_at,
        "notified_at": notification.notified_at,
        "expires_at": session.expires_at,
        "seconds_left": seconds_left,
    }
    return RequestViewSerializer(view).data


def session_object(session: ChatSession, now: datetime | None = None) -> dict[str, Any]:
    """The session object of contract section 3."""
    return SessionSerializer(session, context={"now": now or timezone.now()}).data
