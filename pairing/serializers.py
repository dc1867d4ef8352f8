"""Input validation and output shapes of the pairing API.

Output serializers double as the OpenAPI schema of the contract's objects.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from .messages import EARLY_END_REASONS
from .models import ChatRequestNotification, ChatSession, Platform


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes", 1 or "0" are a mistake, not a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers: a string, a float or a boolean is refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


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
        from .presenters import effective_status

        return effective_status(session, self.context.get("now") or timezone.now())

    def get_status(self, session: ChatSession) -> str:
        return self._effective(session)[0]

    def get_expire_reason(self, session: ChatSession) -> str | None:
        return self._effective(session)[1]


class RequestViewSerializer(serializers.Serializer):
    """The request as one mitra sees it. Built by `presenters.request_view`."""

    session_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["pending", "accepted", "taken", "cancelled", "expired"])
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
        ]

    def get_session_status(self, notification: ChatRequestNotification) -> str:
        from .presenters import effective_status

        return effective_status(notification.session, self.context.get("now") or timezone.now())[0]


class HistorySerializer(serializers.Serializer):
    results = HistoryEntrySerializer(many=True)


class SessionListSerializer(serializers.Serializer):
    results = SessionSerializer(many=True)


class CreateChatRequestSerializer(serializers.Serializer):
    duration_minutes = StrictIntegerField(min_value=5, max_value=180)


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class LoginResultSerializer(serializers.Serializer):
    token = serializers.CharField()
    role = serializers.CharField()
    user_id = serializers.IntegerField()
    display_name = serializers.CharField()


class MitraMeSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    is_available = StrictBooleanField()
    active_session_count = serializers.IntegerField(read_only=True)


class DeviceSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)
    platform = serializers.ChoiceField(choices=Platform.choices)


class EarlyEndReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class SharedConfigSerializer(serializers.Serializer):
    early_end_mitra_enabled = serializers.BooleanField()
    early_end_customer_enabled = serializers.BooleanField()
    request_timeout_seconds = serializers.IntegerField()
    closing_grace_seconds = serializers.IntegerField()
    early_end_reasons = EarlyEndReasonSerializer(many=True)

    @staticmethod
    def reasons() -> list[dict[str, str]]:
        return [{"code": code, "label": label} for code, label in EARLY_END_REASONS.items()]


class EndSessionSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=list(EARLY_END_REASONS))
    reason_note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, data: dict) -> dict:
        if data["reason_code"] == "other" and not data["reason_note"].strip():
            raise serializers.ValidationError({"reason_note": ["Required when reason_code is other."]})
        return data
