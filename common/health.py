"""Health for load balancers and the launcher; they reveal nothing else.

- `GET /api/health/live`: the process answers HTTP. It touches nothing else, so a
  supervisor restarts a process only when that process itself is stuck.
- `GET /api/health/ready` (and `/api/health/`, its alias): may this process take traffic?
  200 when the database answers within `PROBE_SECONDS`, 503 when it does not. Redis is
  reported (`"redis": "ok"` or `"degraded"`) but never decides: the REST API keeps
  working without Redis (contract section 11), so a Redis outage must not take every
  node out of the load balancer at once.

They are answered by `HealthCheckMiddleware`, first in the chain: before any middleware
reads the Host header (a load balancer probes with the node's address, which ALLOWED_HOSTS
rightly does not list: that was a 400), and off the thread every other sync view shares
(a probe waiting on a hung database must not hold up the process's other requests).

Every answer comes within `PROBE_SECONDS` even when a server accepts the connection and
then says nothing (a hung Redis or PostgreSQL): Redis is asked with socket timeouts; the
database probe runs in a thread of its own that the view waits for at most that long, and
a probe still stuck from an earlier call is waited on again instead of piling up threads.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from time import monotonic

import redis
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import resolve
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

PROBE_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.4  # to connect, and to reply: at most 0.8 s, while the database is probed

_database_probes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-database")
_database_lock = threading.Lock()
_database_in_flight: Future | None = None
_redis_clients: dict[str, redis.Redis] = {}


def _select_one() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's connection goes back to the pool (or is closed)


def _start_database_probe() -> Future:
    global _database_in_flight
    with _database_lock:
        if _database_in_flight is None or _database_in_flight.done():
            _database_in_flight = _database_probes.submit(_select_one)
        return _database_in_flight


def _database(probe: Future, timeout: float) -> str:
    try:
        probe.result(timeout=max(0.0, timeout))
    except FutureTimeout:
        logger.warning("health check: the database did not answer within %.1f s", PROBE_SECONDS)
        return "down"
    except Exception as exc:  # a health check reports, it does not raise
        logger.warning("health check: database: %s", exc)
        return "down"
    return "ok"


def _redis() -> str:
    client = _redis_clients.get(settings.REDIS_URL)
    if client is None:
        client = _redis_clients[settings.REDIS_URL] = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # one try: the answer must come within the second
        )
    try:
        client.ping()
    except Exception as exc:  # down, hung, refusing: the API still serves
        logger.warning("health check: redis: %s", exc)
        return "degraded"
    return "ok"


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    started = monotonic()
    probe = _start_database_probe()  # runs while Redis is asked
    checks = {"database": "", "redis": _redis()}
    checks["database"] = _database(probe, PROBE_SECONDS - 0.05 - (monotonic() - started))
    ready = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503)


PROBES = {"/api/health/live": live, "/api/health/ready": ready, "/api/health/": ready}


class HealthCheckMiddleware:
    """Answers the health paths itself; every other request goes on down the chain."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        request.resolver_match = resolve(request.path_info)  # named in the logs and metrics as routed
        return probe(request)

    async def __acall__(self, request: HttpRequest):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return await self.get_response(request)
        request.resolver_match = resolve(request.path_info)
        return await sync_to_async(probe, thread_sensitive=False)(request)
