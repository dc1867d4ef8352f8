"""The one error base and the one exception handler: every 4xx is `{"error": {code, message, ...}}`.

Apps raise `DomainError` subclasses from their services; this handler renders them and
DRF's own exceptions in the same shape, so no view builds an error body by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from .messages import ERROR_MESSAGES

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the product said no. `extra` carries what the client needs to show why
    (the overlay shows a stale request's message), already rendered by a presenter."""

    code = "domain_error"
    status_code = 409

    def __init__(self, **extra: Any) -> None:
        super().__init__(self.code)
        self.extra = extra

    def headers(self) -> dict[str, str]:
        return {}


class NotFound(DomainError):
    """The resource does not exist or is not the caller's; the two look the same."""

    code = "not_found"
    status_code = 404


_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "invalid_token"),
    (exceptions.PermissionDenied, "wrong_role"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


def error_body(code: str, message: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message or ERROR_MESSAGES.get(code, code), **extra}}


def _fields(detail: Any) -> dict[str, list[str]]:
    """DRF's nested validation detail as {field: [messages]}."""
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for name, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _fields(value).items():
                    fields[f"{name}.{sub}"] = messages
            elif isinstance(value, list):
                fields[name] = [str(item) for item in _flatten(value)]
            else:
                fields[name] = [str(value)]
        return fields
    return {"non_field_errors": [str(item) for item in _flatten(detail)]}


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flatten(item)]
    if isinstance(value, dict):
        return [f"{k}: {leaf}" for k, v in value.items() for leaf in _flatten(v)]
    return [value]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away before the change committed (a change that committed
        # publishes after commit and never raises): nothing happened, so say so and when
        # to try again, instead of a 500 the app cannot tell from a half-done change.
        logger.warning("database unavailable: %s", exc)
        return Response(error_body("unavailable"), status=503, headers={"Retry-After": "1"})
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, **exc.extra), status=exc.status_code, headers=exc.headers())
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, (exceptions.ValidationError, exceptions.ParseError)):
        return Response(error_body("invalid", fields=_fields(exc.detail)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.APIException):
        code = next((code for cls, code in _CODES if isinstance(exc, cls)), exc.default_code)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)
    return None


def json_bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("invalid", str(exception) if exception else None), status=400)


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found"), status=404)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(error_body("server_error"), status=500)
