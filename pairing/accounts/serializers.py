"""Input of the accounts endpoints."""

from rest_framework import serializers

from common.api import StrictBooleanField, StrictCharField

from .models import Platform


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class AvailabilitySerializer(serializers.Serializer):
    is_available = StrictBooleanField()


class DeviceInputSerializer(serializers.Serializer):
    token = StrictCharField(max_length=512)
    platform = serializers.ChoiceField(choices=Platform.choices)
