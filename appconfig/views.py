"""`GET /api/shared/config/` (contract section 6): what every app reads at startup."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.messages import EARLY_END_REASONS

from .models import get_config


class EarlyEndReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class SharedConfigSerializer(serializers.Serializer):
    early_end_mitra_enabled = serializers.BooleanField()
    early_end_customer_enabled = serializers.BooleanField()
    request_timeout_seconds = serializers.IntegerField()
    closing_grace_seconds = serializers.IntegerField()
    early_end_reasons = EarlyEndReasonSerializer(many=True)


class SharedConfigView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: SharedConfigSerializer})
    def get(self, request: Request) -> Response:
        config = get_config()
        return Response(
            {
                "early_end_mitra_enabled": config.early_end_mitra_enabled,
                "early_end_customer_enabled": config.early_end_customer_enabled,
                "request_timeout_seconds": config.request_timeout_seconds,
                "closing_grace_seconds": config.closing_grace_seconds,
                "early_end_reasons": [{"code": code, "label": label} for code, label in EARLY_END_REASONS.items()],
            }
        )
