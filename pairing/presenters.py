"""How a request, a session and an account look to clients: the one output path for
REST, WebSocket and push alike. The serializers here double as the OpenAPI schema.

Every status shown is the status as of now (`lifecycle.effective_status`), so a client
never sees live buttons on a request that can no longer be accepted.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from common.messages import REQUEST_MESSAGES

from . import lifecycle
from .accounts.models import Device, MitraProfile, User
from .requests.models import ChatRequestNotification, ChatSession


class UserRefSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="id")
    display_name = serializers.CharField(source="name")


class CustomerRefSerializer(serializers.Serializer):
    display_name = serializers.CharField()


class SessionSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(source="id")
    status = serializers.SerializerMethodField()
    expire_reason = serializers.SerializerMethodField()
    customer = UserRefSerializer()
    mitra = UserRefSerializer(allow_null=True)

    class Meta:
        model = ChatSession
        fields = [
            "session_id",
            "status",
            "expire_reason",
            "duration_minutes",
            "requested_at",
            "expires_at",
            "accepted_at",
            "ends_at",
            "closing_started_at",
            "grace_ends_at",
            "closed_at",
            "customer",
            "mitra",
        ]

    def _effective(self, session: ChatSession) -> tuple[str, str | None]:
        return lifecycle.effective_status(session, self.context.get("now") or timezone.now())

    def get_status(self, session: ChatSession) -> str:
        return self._effective(session)[0]

    def get_expire_reason(self, session: ChatSession) -> str | None:
        return self._effective(session)[1]


class RequestViewSerializer(serializers.Serializer):
    """The request as one mitra sees it (contract section 4)."""

    session_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=lifecycle.RequestStatus.choices)
    can_respond = serializers.BooleanField()
    message = serializers.CharField(allow_null=True)
    my_response = serializers.CharField(allow_null=True)
    duration_minutes = serializers.IntegerField()
    customer = CustomerRefSerializer()
    requested_at = serializers.DateTimeField()
    notified_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField()


class RequestListSerializer(serializers.Serializer):
    results = RequestViewSerializer(many=True)


class AcceptResultSerializer(serializers.Serializer):
    request = RequestViewSerializer()
    session = SessionSerializer()


class HistoryEntrySerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField()
    duration_minutes = serializers.IntegerField(source="session.duration_minutes")
    session_status = serializers.SerializerMethodField()

    class Meta:
        model = ChatRequestNotification
        fields = [
            "session_id",
            "response",
            "notified_at",
            "responded_at",
            "response_time_seconds",
            "active_session_count",
            "duration_minutes",
            "session_status",
            "delivered_at",
            "delivered_via",
            "seen_at",
        ]

    def get_session_status(self, notification: ChatRequestNotification) -> str:
        return lifecycle.effective_status(notification.session, self.context.get("now") or timezone.now())[0]


class HistorySerializer(serializers.Serializer):
    results = HistoryEntrySerializer(many=True)


class SessionListSerializer(serializers.Serializer):
    results = SessionSerializer(many=True)


class LoginResultSerializer(serializers.Serializer):
    token = serializers.CharField()
    role = serializers.CharField()
    user_id = serializers.IntegerField()
    display_name = serializers.CharField()


class MitraMeSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    display_name = serializers.CharField()
    is_available = serializers.BooleanField()
    active_session_count = serializers.IntegerField()


class DeviceSerializer(serializers.Serializer):
    token = serializers.CharField()
    platform = serializers.CharField()


# --- the presenters -------------------------------------------------------------


def request_view(notification: ChatRequestNotification, now: datetime | None = None) -> dict[str, Any]:
    """The request as the notified mitra sees it (contract section 4)."""
    now = now or timezone.now()
    session = notification.session
    status = lifecycle.request_status(session, notification.mitra_id, now)
    seconds_left = 0
    if status == lifecycle.RequestStatus.PENDING:
        seconds_left = max(0, math.ceil((session.expires_at - now).total_seconds()))
    view = {
        "session_id": session.id,
        "status": status,
        "can_respond": lifecycle.can_respond(notification.response, status),
        "message": REQUEST_MESSAGES.get(status),
        "my_response": lifecycle.my_response(notification.response, status),
        "duration_minutes": session.duration_minutes,
        "customer": {"display_name": session.customer.name},
        "requested_at": session.requested_at,
        "notified_at": notification.notified_at,
        "expires_at": session.expires_at,
        "seconds_left": seconds_left,
    }
    return RequestViewSerializer(view).data


def request_views(notifications: list[ChatRequestNotification]) -> list[dict[str, Any]]:
    now = timezone.now()
    return [request_view(notification, now) for notification in notifications]


def session_object(session: ChatSession, now: datetime | None = None) -> dict[str, Any]:
    """The session object of contract section 3."""
    return SessionSerializer(session, context={"now": now or timezone.now()}).data


def session_objects(sessions: list[ChatSession]) -> list[dict[str, Any]]:
    now = timezone.now()
    return [session_object(session, now) for session in sessions]


def accept_result(notification: ChatRequestNotification) -> dict[str, Any]:
    now = timezone.now()
    return {"request": request_view(notification, now), "session": session_object(notification.session, now)}


def history(notifications: list[ChatRequestNotification]) -> dict[str, Any]:
    return {"results": HistoryEntrySerializer(notifications, many=True, context={"now": timezone.now()}).data}


def login_result(user: User, token_key: str) -> dict[str, Any]:
    return {"token": token_key, "role": user.role, "user_id": user.id, "display_name": user.name}


def mitra_me(mitra: User, profile: MitraProfile, active_session_count: int) -> dict[str, Any]:
    return {
        "user_id": mitra.id,
        "display_name": mitra.name,
        "is_available": profile.is_available,
        "active_session_count": active_session_count,
    }


def device(registered: Device) -> dict[str, Any]:
    return {"token": registered.token, "platform": registered.platform}
