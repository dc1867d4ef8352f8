"""What a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE).

The API login answers the contract's 429 `throttled`, with when to try again; a sign-in
page gets a page that says what happened and how it ends (429 too).

django-axes calls this two ways: its middleware's sync path passes
`(request, response, credentials)`, its async path (daphne, that is production) passes
`(request, credentials)`, a dict where the response would be. So nothing here reads the
second argument as a response unless it is one.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .errors import error_body


def lockout_response(
    request: HttpRequest, original_response: object = None, credentials: object = None
) -> HttpResponse:
    cooloff_seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if request.path.startswith("/api/"):
        if isinstance(original_response, HttpResponse) and original_response.status_code == 429:
            return original_response  # the login view's own 429, already in the contract's shape
        response = JsonResponse(error_body("throttled"), status=429)
        response["Retry-After"] = str(cooloff_seconds)
        return response
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": max(1, round(cooloff_seconds / 60))}
    return render(request, "control_center/locked_out.html", context, status=429)
