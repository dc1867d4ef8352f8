"""How a mitra's running sessions look to its app (Sesi Aktif): session objects, as
the requests room presents them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from ..requests.models import ChatRequest
from ..requests.presenters import SessionSerializer, session_object


class SessionListSerializer(serializers.Serializer):
    results = SessionSerializer(many=True)


def session_objects(sessions: list[ChatRequest]) -> list[dict[str, Any]]:
    now = timezone.now()
    return [session_object(session, now) for session in sessions]
