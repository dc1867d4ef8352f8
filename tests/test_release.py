"""The two starts and the release step: `make run` (the developer's demo) and the
production start (`launcher serve`, preceded by `manage.py migrate`)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.core.management import call_command

from devtools.launcher import BASE_DIR, demo_wanted
from devtools.stack import _drop_postgres, _fresh_postgres_url
from pairing.management.commands.seed_demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from pairing.models import User

GIVEN_DATABASE = os.environ.get("DATABASE_URL", "")
on_postgres = pytest.mark.skipif(
    not GIVEN_DATABASE.startswith(("postgres://", "postgresql://")), reason="the migrate lock is PostgreSQL's"
)


@pytest.fixture
def fresh_database():
    """An empty PostgreSQL database of its own, dropped afterwards."""
    url = _fresh_postgres_url(GIVEN_DATABASE, f"halobestie_release_{uuid.uuid4().hex[:8]}")
    yield url
    _drop_postgres(url)


def _manage(database_url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@on_postgres
def test_two_hosts_migrating_at_once_both_succeed_one_after_the_other(fresh_database):
    hosts = [_manage(fresh_database, "migrate", "--noinput") for _ in range(2)]
    outputs = [host.communicate(timeout=300)[0] for host in hosts]
    assert [host.returncode for host in hosts] == [0, 0], outputs
    # One applied everything; the other waited for its lock, then found nothing to do.
    waited = [out for out in outputs if "Another host is migrating this database; waiting" in out]
    assert len(waited) == 1, outputs
    assert "No migrations to apply." in waited[0] and "Applying" not in waited[0], waited[0]
    for out in outputs:
        assert out.index("Took the migrate lock.") < out.rindex("Released the migrate lock."), out
    check = _manage(fresh_database, "migrate", "--check")
    assert check.wait(120) == 0, check.communicate()[0]


@on_postgres
def test_serve_refuses_an_unmigrated_database_and_creates_nothing(fresh_database):
    env = {**os.environ, "DATABASE_URL": fresh_database, "REDIS_URL": os.environ["REDIS_URL"], "PORT": "0"}
    served = subprocess.run(
        [sys.executable, "-m", "devtools.launcher", "serve"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert served.returncode != 0
    assert "run the release step first: python manage.py migrate" in served.stderr
    import psycopg

    with psycopg.connect(fresh_database) as conn:  # it applied nothing: not even Django's own table
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 0


def test_serve_needs_a_database_and_a_redis_of_its_own():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    served = subprocess.run(
        [sys.executable, "-m", "devtools.launcher", "serve"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert served.returncode != 0 and "serve needs DATABASE_URL and REDIS_URL" in served.stderr


@pytest.mark.parametrize(
    ("database_url", "demo", "wanted"),
    [("", None, True), ("", "0", False), ("postgres://db/x", None, False), ("postgres://db/x", "1", True)],
)
def test_make_run_creates_demo_accounts_only_on_the_embedded_default_or_when_asked(
    monkeypatch, database_url, demo, wanted
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    if demo is None:
        monkeypatch.delenv("DEMO", raising=False)
    else:
        monkeypatch.setenv("DEMO", demo)
    assert demo_wanted() is wanted


def test_demo_accounts_are_created_once_and_never_reset(db):
    call_command("seed_demo")
    staff = User.objects.get(username="staff")
    assert staff.check_password(DEMO_PASSWORD)
    staff.set_password("a-password-of-my-own")
    staff.save()
    mitra = User.objects.get(username="mitra1")
    mitra.display_name = "Renamed"
    mitra.save()
    call_command("seed_demo")  # the next `make run`
    staff.refresh_from_db()
    mitra.refresh_from_db()
    assert staff.check_password("a-password-of-my-own") and not staff.check_password(DEMO_PASSWORD)
    assert mitra.display_name == "Renamed"
    assert User.objects.filter(username__in=[name for name, _, _ in DEMO_ACCOUNTS]).count() == len(DEMO_ACCOUNTS)
