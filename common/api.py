"""Small pieces every REST view shares: strict JSON fields, input validation, the
documented error response."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request

ERROR = OpenApiResponse(description='`{"error": {"code", "message", ...}}`')


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes", 1 or "0" are a mistake, not a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class StrictCharField(serializers.CharField):
    """Only JSON strings: a number is not a token, a username or a note."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers: a string, a float or a boolean is refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def validated(
    serializer_class: type[serializers.Serializer], request: Request, partial: bool = False
) -> dict[str, Any]:
    """The request body, validated; a 400 `invalid` with `fields` otherwise."""
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
