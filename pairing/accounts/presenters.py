"""How an account looks to its own app: the sign-in result, a mitra's own state, a
device. The serializers double as the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import Device, MitraProfile, User


class UserRefSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="id")
    display_name = serializers.CharField(source="name")


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
