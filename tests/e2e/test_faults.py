"""Faults on the real stack: Redis killed, PostgreSQL backends terminated, the Celery
worker killed, daphne killed, each during traffic.

Every change that committed answers its success code (a call cut off before commit may
fail, with a clear error or a dropped connection), and a mitra app that keeps its socket
open, reconnecting with `since` when it drops, ends up with exactly the events of what
committed: each once, in seq order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter

import httpx
import pytest
from websockets.sync.client import connect

from devtools.stack import Stack
from tests.support import requires_postgres
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e


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
                assert down_login.status_code == 200  # sign-in locks live in the database

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


class ResumingApp:
    """A mitra app in the foreground: one socket, reopened with `since=<last seq>` whenever
    it drops, keeping every event frame it is given."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.stack, self.token = stack, token
        self.events: list[dict] = []
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._connected = threading.Event()
        self._thread.start()
        assert self._connected.wait(20), "the app never connected"

    @property
    def last_seq(self) -> int:
        return self.events[-1]["seq"] if self.events else 0

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            since = "" if first else f"&since={self.last_seq}"
            try:
                with connect(f"{self.stack.ws_url}/ws/mitra/?token={self.token}{since}", open_timeout=10) as ws:
                    self._connected.set()
                    first = False
                    while not self._stop.is_set():
                        try:
                            frame = json.loads(ws.recv(timeout=0.2))
                        except TimeoutError:
                            continue
                        assert not frame.get("resync"), frame  # the outbox still holds every event
                        if "seq" in frame and frame["type"] not in ("hello", "heartbeat"):
                            self.events.append(frame)
            except Exception:  # the socket dropped or could not open: the app tries again
                if not first:
                    self.reconnects += 1
                time.sleep(0.2)

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # and nothing more than that arrives

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Traffic:
    """A customer creating and cancelling requests in a loop, noting every answer."""

    def __init__(self, stack: Stack, username: str = "customer1") -> None:
        self.stack, self.username = stack, username
        self.client = stack.client(stack.login(username))
        self.answers: list[tuple[str, int | str]] = []  # (call, status code or the transport error)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _call(self, name: str, path: str, body: dict | None = None) -> httpx.Response | None:
        try:
            response = self.client.post(path, json=body)
        except httpx.TransportError as exc:  # cut off mid-call: the app cannot know; it re-reads state
            self.answers.append((name, type(exc).__name__))
            return None
        self.answers.append((name, response.status_code))
        return response

    def _run(self) -> None:
        open_request = None  # created and not yet cancelled, as this app knows it
        while not self._stop.is_set():
            if open_request is None:
                created = self._call("create", "/api/customer/chat-requests/", {"duration_minutes": 10})
                if created is not None and created.status_code == 201:
                    open_request = created.json()["session_id"]
                elif created is not None and created.status_code == 409:  # a cut-off create committed
                    open_request = next((i for i, status in committed(self.stack, self.username)
                                         if status == "pending"), None)  # fmt: skip
            if open_request is not None:
                cancelled = self._call("cancel", f"/api/customer/chat-requests/{open_request}/cancel/")
                if cancelled is not None and cancelled.status_code in (200, 409):
                    open_request = None
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


SESSIONS_SCRIPT = """
import json
from pairing.models import ChatRequest
rows = ChatRequest.objects.filter(customer__username="{customer}").order_by("requested_at")
print(json.dumps([[str(s.id), s.status] for s in rows]))
"""


def committed(stack: Stack, customer: str = "customer1") -> list[tuple[str, str]]:
    """What the database holds: (session id, status) of each request."""
    for attempt in range(10):
        try:
            output = stack.manage("shell", "-c", SESSIONS_SCRIPT.format(customer=customer))
            break
        except subprocess.CalledProcessError as failed:  # its own connection was terminated too
            if attempt == 9:
                raise AssertionError(failed.stderr) from failed
            time.sleep(0.2)
    return [tuple(row) for row in json.loads(output.strip().splitlines()[-1])]


def expected_events(sessions: list[tuple[str, str]]) -> Counter:
    """The mitra's events of those requests: each one offered, then withdrawn as it ended."""
    ended = {"cancelled": "chat_request.cancelled", "expired": "chat_request.expired"}
    events = Counter(("chat_request.new", session_id) for session_id, _ in sessions)
    events.update((ended[status], session_id) for session_id, status in sessions if status in ended)
    return events


def assert_delivered_exactly(app: ResumingApp, sessions: list[tuple[str, str]]) -> None:
    expected = expected_events(sessions)
    app.wait_for(sum(expected.values()), timeout=30)
    assert [e["seq"] for e in app.events] == list(range(1, len(app.events) + 1))  # each once, in order
    got = Counter((e["type"], e["data"]["session_id"]) for e in app.events)
    assert got == expected


def assert_no_committed_change_failed(traffic: Traffic, sessions: list[tuple[str, str]]) -> None:
    """A 5xx is allowed only for a call that did not commit: the 503 `unavailable` of a
    call the database cut off. Every success code matches a change in the database."""
    codes = Counter(code for _, code in traffic.answers)
    assert not [c for c in codes if isinstance(c, int) and c >= 500 and c != 503], codes
    created = sum(1 for call, code in traffic.answers if call == "create" and code == 201)
    interrupted = sum(1 for call, code in traffic.answers if call == "create" and not isinstance(code, int))
    assert created <= len(sessions) <= created + interrupted, (codes, len(sessions))
    cancelled = sum(1 for call, code in traffic.answers if call == "cancel" and code == 200)
    interrupted = sum(1 for call, code in traffic.answers if call == "cancel" and not isinstance(code, int))
    in_db = sum(1 for _, status in sessions if status == "cancelled")
    assert cancelled <= in_db <= cancelled + interrupted, (codes, in_db)


@requires_postgres
def test_postgres_backends_terminated_during_traffic_lose_nothing():
    with Stack() as stack:
        app = ResumingApp(stack, stack.login("mitra1"))
        database = stack.database_url.rsplit("/", 1)[1]
        import psycopg

        with (
            psycopg.connect(stack.database_url, autocommit=True) as admin,
            Traffic(stack) as traffic,
        ):
            time.sleep(1)
            terminated = 0
            for _ in range(200):  # every connection of the stack: web processes, worker, beat
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                ).fetchall()
                terminated += len(rows)
                time.sleep(0.02)
            time.sleep(1)
        assert terminated > 20
        sessions = committed(stack)
        assert len(sessions) > 10
        assert_no_committed_change_failed(traffic, sessions)
        assert_delivered_exactly(app, sessions)
        app.close()


def test_celery_worker_killed_and_restarted_expires_everything_once():
    with Stack() as stack:
        stack.manage("appconfig", "request_timeout_seconds=2")
        app = ResumingApp(stack, stack.login("mitra1"))
        customers = [stack.client(stack.login(name)) for name in ("customer1", "customer2")]
        (worker,) = stack.pids("celery -A halobestie worker")
        os.kill(worker, signal.SIGKILL)  # no sweep, no relay, no push until it is back
        made = [c.post("/api/customer/chat-requests/", json={"duration_minutes": 10}) for c in customers]
        assert [r.status_code for r in made] == [201, 201]
        deadline = time.monotonic() + 30
        while stack.pids("celery -A halobestie worker") in ([], [worker]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f"worker (pid {worker}) exited" in stack.log()
        app.wait_for(4, timeout=40)
        sessions = [s for name in ("customer1", "customer2") for s in committed(stack, name)]
        assert [status for _, status in sessions] == ["expired"] * 2
        assert_delivered_exactly(app, sessions)
        app.close()


def test_daphne_killed_and_restarted_during_traffic_loses_nothing():
    with Stack(extra_env={"WEB_CONCURRENCY": "2"}) as stack:
        app = ResumingApp(stack, stack.login("mitra1"))
        webs = stack.pids("daphne")
        assert len(webs) == 2
        with Traffic(stack) as traffic:
            time.sleep(1)
            for pid in webs:  # every web process at once; the listening socket stays open
                os.kill(pid, signal.SIGKILL)
            time.sleep(3)
            restarted = stack.pids("daphne")
            time.sleep(2)
        assert len(restarted) == 2 and not set(restarted) & set(webs)
        assert app.reconnects >= 1
        sessions = committed(stack)
        assert_no_committed_change_failed(traffic, sessions)
        assert_delivered_exactly(app, sessions)
        app.close()
