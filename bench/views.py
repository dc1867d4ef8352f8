"""The floor of the HTTP benchmark: a bare Django view doing three queries (the token's
user, a profile, a count), as `GET /api/mitra/me/` does, without DRF, serializers or
presenters. Routed only when BENCH_ROUTES is set (the benchmark's stack)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def three_queries(request: HttpRequest) -> JsonResponse:
    key = request.headers.get("Authorization", "").partition(" ")[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id FROM authtoken_token WHERE key = %s", [key])
        (user_id,) = cursor.fetchone()
        cursor.execute("SELECT is_available FROM pairing_mitraprofile WHERE user_id = %s", [user_id])
        (available,) = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM chat_sessions WHERE mitra_id = %s AND status = 'active'", [user_id])
        (count,) = cursor.fetchone()
    return JsonResponse({"user_id": user_id, "is_available": available, "active_session_count": count})
