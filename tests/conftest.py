"""Shared fixtures; the helpers behind them are in `tests.support`."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from appconfig.models import RuntimeConfig
from pairing.accounts.models import Role
from tests.support import Account, make_account, seed_activity_log
from tests.support.fake_fcm import FakeFCM


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    from django.conf import settings as django_settings

    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _celery_runs_inline():
    """Tasks run in the calling thread; the end-to-end tests run a real worker instead.
    Inline, the push tasks run inside the event dispatch, so a call waits for them whole
    (the end-to-end tests keep the production bound)."""
    from django.conf import settings as django_settings

    from halobestie.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    django_settings.EVENTS_DISPATCH_WAIT_SECONDS = 30


@pytest.fixture(autouse=True, scope="session")
def _no_session_left_on_the_test_database(django_db_setup, django_db_blocker):
    """Threads that served sockets in-process (channels' database_sync_to_async) keep a
    connection of their own; end those sessions before pytest-django drops the test
    database, which PostgreSQL refuses while one is open."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


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


@pytest.fixture
def seeded(db):
    return seed_activity_log()


@pytest.fixture
def fcm(tmp_path, settings):
    """A fake FCM service on this machine, with the settings that send pushes to it."""
    with FakeFCM() as fake:
        settings.FCM_SERVICE_ACCOUNT_FILE = fake.service_account_file(tmp_path)
        settings.FCM_PROJECT_ID = "fake-project"
        settings.FCM_ENDPOINT_BASE = f"{fake.url}/v1/projects"
        settings.FCM_RETRY_BASE_SECONDS = 0
        yield fake
