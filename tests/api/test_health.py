"""Health for load balancers: `live` (the process answers), `ready` (the database answers;
Redis only reported), `/api/health/` an alias of `ready`. Every answer within a second,
even when Redis hangs (a redis-server stopped with SIGSTOP accepts connections and never
replies). The database going away is tested on the real stack (tests/e2e/test_health.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from tests.support.redis_server import RedisServer


@pytest.fixture
def own_redis():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


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
    with override_settings(REDIS_URL=own_redis.url):
        assert client.get(path).json()["redis"] == "ok"  # the probe's connection is open
        own_redis.pause()
        for _ in range(3):  # an open connection, then new ones: each answers in time
            response, seconds = timed_get(client, path)
            assert response.status_code == 200, response.content
            assert response.json() == {"status": "ok", "database": "ok", "redis": "degraded"}
            assert seconds < 1.0, seconds
        own_redis.resume()
        assert client.get(path).json()["redis"] == "ok"


def test_a_redis_that_is_gone_is_degraded_but_still_ready(transactional_db, client, own_redis):
    own_redis.kill()
    with override_settings(REDIS_URL=own_redis.url):
        response, seconds = timed_get(client, "/api/health/ready")
    assert response.status_code == 200 and response.json()["redis"] == "degraded"
    assert seconds < 1.0, seconds


@pytest.mark.parametrize("client_class", [Client, AsyncClient], ids=["sync path", "async path (daphne's)"])
def test_a_load_balancer_probing_with_the_nodes_address_gets_its_answer(transactional_db, client_class):
    """Load balancers send the node's address as Host, which ALLOWED_HOSTS does not list."""
    client = client_class(HTTP_HOST="10.0.0.5")
    with override_settings(ALLOWED_HOSTS=["halobestie.example"]):
        answers = {path: _sent(client.get(path)) for path in ("/api/health/live", "/api/health/ready", "/api/v")}
    assert answers["/api/health/live"].status_code == 200
    assert answers["/api/health/ready"].status_code == 200 and answers["/api/health/ready"].json()["database"] == "ok"
    assert answers["/api/v"].status_code == 400  # every other path still checks the Host


def _sent(response):
    return async_to_sync(_awaited)(response) if asyncio.iscoroutine(response) else response


async def _awaited(pending):
    return await pending
