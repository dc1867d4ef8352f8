"""Input of the chat request endpoints."""

from rest_framework import serializers

from common.api import StrictIntegerField


class CreateChatRequestSerializer(serializers.Serializer):
    duration_minutes = StrictIntegerField(min_value=5, max_value=180)


class SeenSerializer(serializers.Serializer):
    via = serializers.ChoiceField(choices=["push", "poll"], default="poll", required=False)
