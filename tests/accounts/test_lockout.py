"""A locked sign-in never answers 500: the API's 429 `throttled`, the pages' lock page,
from the attempt that reaches the limit to the twentieth, on Django's sync path (the test
client) and on its async path (what daphne runs; django-axes calls the lockout callable
differently there)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command
from django.test import AsyncClient, Client

ATTEMPTS = 20
SIGN_INS = ["/api/auth/token/", "/control-center/login/", "/admin/login/"]


def _attempt(client, path: str, address: str):
    credentials = {"username": "boss", "password": "wrong"}
    if path.startswith("/api/"):
        response = client.post(path, credentials, content_type="application/json", REMOTE_ADDR=address)
    else:
        response = client.post(path, credentials, REMOTE_ADDR=address)
    return async_to_sync(_awaited)(response) if isinstance(client, AsyncClient) else response


async def _awaited(pending):
    return await pending


def assert_locked(path: str, response, attempt: int) -> None:
    assert response.status_code == 429, (path, attempt, response.status_code, response.content[:300])
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "throttled", (path, attempt)
        assert int(response["Retry-After"]) > 0
    else:
        assert b"Too many sign-in attempts" in response.content, (path, attempt)


@pytest.mark.parametrize("client_class", [Client, AsyncClient], ids=["sync path", "async path (daphne's)"])
@pytest.mark.parametrize("path", SIGN_INS)
def test_every_locked_attempt_answers_the_lock_never_500(transactional_db, client_class, path):
    call_command("create_account", "boss", role="staff", password="pw-boss-1")
    client = client_class()
    limit = settings.AXES_FAILURE_LIMIT
    statuses = []
    for attempt in range(1, ATTEMPTS + 1):
        response = _attempt(client, path, "198.51.100.7")
        statuses.append(response.status_code)
        if attempt < limit:
            assert response.status_code == (400 if path.startswith("/api/") else 200), (path, attempt)
        elif attempt in (limit, limit + 1, ATTEMPTS):  # the one that reaches the limit, the next, the 20th
            assert_locked(path, response, attempt)
    assert statuses == [statuses[0]] * (limit - 1) + [429] * (ATTEMPTS - limit + 1), statuses
