"""Input of the session endpoints."""

from rest_framework import serializers

from common.api import StrictCharField
from common.messages import EARLY_END_REASONS


class EndSessionSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=list(EARLY_END_REASONS))
    reason_note = StrictCharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, data: dict) -> dict:
        if data["reason_code"] == "other" and not data["reason_note"].strip():
            raise serializers.ValidationError({"reason_note": ["Required when reason_code is other."]})
        return data
