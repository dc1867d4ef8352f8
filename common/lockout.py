"""What a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE).

The API login answers for itself in the contract's shape (429 `throttled` from the
failure that reaches the limit on), so its response is kept; a sign-in page gets a page
that says what happened and how it ends.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .errors import error_body


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    if request.path.startswith("/api/"):
        if original_response is not None and original_response.status_code in (400, 429):
            return original_response
        response = JsonResponse(error_body("throttled"), status=429)
        response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        return response
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "control_center/locked_out.html", context, status=429)
