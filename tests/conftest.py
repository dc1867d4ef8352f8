"""Shared fixtures: accounts with tokens, API clients, and the clock helpers."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from appconfig.models import RuntimeConfig
from pairing.accounts import create_or_update_account
from pairing.models import ChatSession, Role

_names = itertools.count(1)


class Account:
    """A signed-in user of one role with its own API client."""

    def __init__(self, user):
        self.user = user
        self.token = user.auth_token.key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")

    @property
    def id(self) -> int:
        return self.user.id

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.client.post(path, data, format="json", **kwargs)

    def patch(self, path: str, data=None, **kwargs):
        return self.client.patch(path, data, format="json", **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete(path, **kwargs)


def make_account(role: str, name: str | None = None) -> Account:
    username = name or f"{role}{next(_names)}"
    user, _ = create_or_update_account(username, role, "secret-pass-123", f"Display {username}")
    return Account(user)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    from django.conf import settings as django_settings

    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _celery_runs_inline():
    """Tasks run in the calling thread; the end-to-end tests run a real worker instead."""
    from halobestie.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield


@pytest.fixture
def make_customer(db):
    return lambda name=None: make_account(Role.CUSTOMER, name)


@pytest.fixture
def make_mitra(db):
    return lambda name=None: make_account(Role.MITRA, name)


@pytest.fixture
def customer(make_customer) -> Account:
    return make_customer()


@pytest.fixture
def mitras(make_mitra) -> list[Account]:
    return [make_mitra() for _ in range(3)]


@pytest.fixture
def staff(db) -> Account:
    return make_account(Role.STAFF)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def config(db) -> RuntimeConfig:
    return RuntimeConfig.load()


def set_config(**values) -> None:
    config = RuntimeConfig.load()
    for key, value in values.items():
        setattr(config, key, value)
    config.save()


def make_overdue(session_id) -> None:
    """Move a pending request's deadline into the past, as if its 60 seconds had run out."""
    ChatSession.objects.filter(id=session_id).update(expires_at=timezone.now() - timedelta(seconds=1))


def create_request(customer: Account, minutes: int = 30) -> str:
    response = customer.post("/api/customer/chat-requests/", {"duration_minutes": minutes})
    assert response.status_code == 201, response.content
    return response.json()["session_id"]


requires_postgres = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="row locks need PostgreSQL (CI runs it)"
)
