"""How a request and the session it becomes look to clients: the one output path for
REST, WebSocket and push alike. The serializers double as the OpenAPI schema.

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

from .. import lifecycle
from ..accounts.presenters import UserRefSerializer
from .models import ChatRequest, Offer


class CustomerRefSerializer(serializers.Serializer):
    display_name = serializers.CharField()


class SessionSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(source="id")
    status = serializers.SerializerMethodField()
    expire_reason = serializers.SerializerMethodField()
    customer = UserRefSerializer()
    mitra = UserRefSerializer(allow_null=True)

    class Meta:
        model = ChatRequest
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

    def _effective(self, session: ChatRequest) -> tuple[str, str | None]:
        return lifecycle.effective_status(session, self.context.get("now") or timezone.now())

    def get_status(self, session: ChatRequest) -> str:
        return self._effective(session)[0]

    def get_expire_reason(self, session: ChatRequest) -> str | None:
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
        model = Offer
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

    def get_session_status(self, offer: Offer) -> str:
        return lifecycle.effective_status(offer.session, self.context.get("now") or timezone.now())[0]


class HistorySerializer(serializers.Serializer):
    results = HistoryEntrySerializer(many=True)


# --- the presenters -------------------------------------------------------------


def request_view(offer: Offer, now: datetime | None = None) -> dict[str, Any]:
    """The request as the notified mitra sees it (contract section 4)."""
    now = now or timezone.now()
    session = offer.session
    status = lifecycle.request_status(session, offer.mitra_id, now)
    seconds_left = 0
    if status == lifecycle.RequestStatus.PENDING:
        seconds_left = max(0, math.ceil((session.expires_at - now).total_seconds()))
    view = {
        "session_id": session.id,
        "status": status,
        "can_respond": lifecycle.can_respond(offer.response, status),
        "message": REQUEST_MESSAGES.get(status),
        "my_response": lifecycle.my_response(offer.response, status),
        "duration_minutes": session.duration_minutes,
        "customer": {"display_name": session.customer.name},
        "requested_at": session.requested_at,
        "notified_at": offer.notified_at,
        "expires_at": session.expires_at,
        "seconds_left": seconds_left,
    }
    return RequestViewSerializer(view).data


def request_views(offers: list[Offer]) -> list[dict[str, Any]]:
    now = timezone.now()
    return [request_view(offer, now) for offer in offers]


def session_object(session: ChatRequest, now: datetime | None = None) -> dict[str, Any]:
    """The session object of contract section 3."""
    return SessionSerializer(session, context={"now": now or timezone.now()}).data


def accept_result(offer: Offer) -> dict[str, Any]:
    now = timezone.now()
    return {"request": request_view(offer, now), "session": session_object(offer.session, now)}


def history(offers: list[Offer]) -> dict[str, Any]:
    return {"results": HistoryEntrySerializer(offers, many=True, context={"now": timezone.now()}).data}
