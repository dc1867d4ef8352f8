"""Health through the real server, as a load balancer probes it: Redis hung (a redis-server
of this test's own, stopped with SIGSTOP) or gone leaves every host ready within a second;
the database refusing connections takes the host out (503) while `live` still answers."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from devtools.stack import Stack
from tests.support import requires_postgres
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e


def probe(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=10)
    return response, time.monotonic() - started


def test_a_hung_or_dead_redis_leaves_every_host_ready_within_a_second():
    redis_server = RedisServer()
    redis_server.start()
    try:
        with Stack(extra_env={"REDIS_URL": redis_server.url}, production=True, hosts=2) as stack:
            for host in stack.hosts:
                assert probe(f"{host.url}/api/health/ready")[0].json()["redis"] == "ok"
            redis_server.pause()
            try:
                for _ in range(3):
                    for host in stack.hosts:
                        for path in ("/api/health/ready", "/api/health/"):
                            response, seconds = probe(f"{host.url}{path}")
                            assert response.status_code == 200, (path, response.text)
                            assert response.json() == {"status": "ok", "database": "ok", "redis": "degraded"}
                            assert seconds < 1.0, (path, seconds)
                        assert probe(f"{host.url}/api/health/live")[0].status_code == 200
            finally:
                redis_server.resume()
            redis_server.kill()
            for host in stack.hosts:
                response, seconds = probe(f"{host.url}/api/health/ready")
                assert (response.status_code, response.json()["redis"]) == (200, "degraded")
                assert seconds < 1.0, seconds
    finally:
        redis_server.stop()


def _admin(database_url: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


@requires_postgres
def test_a_host_whose_database_is_gone_is_taken_out_and_comes_back():
    with Stack(production=True) as stack:
        name = urlsplit(stack.database_url).path.lstrip("/")
        assert probe(f"{stack.url}/api/health/ready")[0].status_code == 200
        with psycopg.connect(_admin(stack.database_url), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            try:
                response, seconds = probe(f"{stack.url}/api/health/ready")
                assert response.status_code == 503, response.text
                assert response.json()["database"] == "down" and seconds < 1.5, (response.text, seconds)
                live = probe(f"{stack.url}/api/health/live")
                assert live[0].status_code == 200 and live[1] < 1.0
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 30
        while probe(f"{stack.url}/api/health/ready")[0].status_code != 200:
            assert time.monotonic() < deadline, "the host did not come back once its database did"
            time.sleep(0.5)
