"""`GET /api/health/`: 200 when the database and Redis answer, 503 otherwise.

For load balancers and for the launcher's readiness check; it reveals nothing else.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:  # a health check reports, it does not raise
        logger.warning("health check: %s", exc)
        return "down"
    return "ok"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check(_database), "redis": _check(lambda: cache.get("health-check"))}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
