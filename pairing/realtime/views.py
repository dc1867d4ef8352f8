"""`GET /api/events/?since=N` (contract section 11): the socket's frames over REST, for an
app woken by a push."""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ERROR
from common.integers import parse_int

from ..events import outbox
from . import delivery
from .consumers import snapshot


class EventsResultSerializer(serializers.Serializer):
    events = serializers.ListField(child=serializers.DictField(), help_text="frames as on the socket, in seq order")
    seq = serializers.IntegerField(help_text="the user's latest seq")
    resync = serializers.BooleanField()
    snapshot = serializers.DictField(required=False, help_text="hello's data, when resync is true")


class EventsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("since", int, required=True, description="the last seq the app handled")],
        responses={200: EventsResultSerializer, 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        since = parse_int(request.query_params.get("since"))  # ASCII digits only (common/integers.py)
        if since is None:
            raise ValidationError({"since": ["A non-negative integer is required."]})
        latest, stored = outbox.events_since(request.user.id, since)
        if stored is None:
            latest, data = snapshot(request.user)
            return Response({"events": [], "seq": latest, "resync": True, "snapshot": data})
        frames = [
            json.loads(delivery.frame(event.type, event.data_json, event.created_at, seq=event.seq)) for event in stored
        ]
        return Response({"events": frames, "seq": latest, "resync": False})
