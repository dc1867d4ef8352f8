"""A hung dependency (SIGSTOP: it accepts connections and never answers) on the real
stack, during traffic. A hung Redis must not hold a committed change's answer; a row
lock held too long in PostgreSQL gives up with 503 instead of hanging the request."""

from __future__ import annotations

import json
import threading
import time

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from devtools.stack import Stack
from tests.support import requires_postgres
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e

HUNG_SECONDS = 20


class Listener:
    """A mitra app with its socket open, keeping every event frame (no resume: one socket)."""

    def __init__(self, url: str) -> None:
        self.frames: list[dict] = []
        self._stop = threading.Event()
        self._ws = connect(url, open_timeout=10).__enter__()
        assert json.loads(self._ws.recv(timeout=10))["type"] == "hello"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = json.loads(self._ws.recv(timeout=0.2))
            except TimeoutError:
                continue
            except Exception:
                return
            if "seq" in frame and frame["type"] not in ("hello", "heartbeat"):
                self.frames.append(frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._ws.__exit__(None, None, None)


def timed(calls: list[tuple[str, int, float]], name: str, send) -> httpx.Response:
    started = time.monotonic()
    response = send()
    calls.append((name, response.status_code, time.monotonic() - started))
    return response


def test_a_hung_redis_holds_no_answer_and_loses_no_event():
    redis_server = RedisServer()
    redis_server.start()
    try:
        with Stack(extra_env={"REDIS_URL": redis_server.url}) as stack:
            tokens = {name: stack.login(name) for name in ("mitra1", "mitra2", "customer1", "customer2")}
            mitra1, mitra2 = stack.client(tokens["mitra1"]), stack.client(tokens["mitra2"])
            customer1, customer2 = stack.client(tokens["customer1"]), stack.client(tokens["customer2"])
            listeners = {
                name: Listener(f"{stack.ws_url}/ws/mitra/?token={tokens[name]}") for name in ("mitra1", "mitra2")
            }
            calls: list[tuple[str, int, float]] = []
            reads: list[tuple[str, int, float]] = []
            try:
                redis_server.pause()
                hung_until = time.monotonic() + HUNG_SECONDS
                while time.monotonic() < hung_until:
                    created = timed(calls, "create", lambda: customer1.post(
                        "/api/customer/chat-requests/", json={"duration_minutes": 10}))  # fmt: skip
                    accept = f"/api/mitra/chat-requests/{created.json()['session_id']}/accept/"
                    timed(calls, "accept", lambda: mitra1.post(accept))  # noqa: B023 (called at once)
                    created = timed(calls, "create", lambda: customer2.post(
                        "/api/customer/chat-requests/", json={"duration_minutes": 10}))  # fmt: skip
                    request = created.json()["session_id"]
                    decline, cancel = (
                        f"/api/mitra/chat-requests/{request}/decline/",
                        f"/api/customer/chat-requests/{request}/cancel/",
                    )
                    timed(calls, "decline", lambda: mitra2.post(decline))  # noqa: B023 (called at once)
                    timed(calls, "cancel", lambda: customer2.post(cancel))  # noqa: B023 (called at once)
                    timed(reads, "me", lambda: mitra1.get("/api/mitra/me/"))
                    timed(reads, "pending", lambda: mitra2.get("/api/mitra/chat-requests/pending/"))
                redis_server.resume()
                resumed = time.monotonic()

                expected = {"create": 201, "accept": 200, "decline": 200, "cancel": 200, "me": 200, "pending": 200}
                assert [(name, code) for name, code, _ in calls + reads] == [
                    (name, expected[name]) for name, _, _ in calls + reads
                ]
                durations = sorted(seconds for _, _, seconds in calls)
                assert len(durations) >= 20
                assert durations[int(len(durations) * 0.99) - 1] < 1.0, durations[-5:]

                # Within 10 s of SIGCONT every socket has each of its user's events once, in order.
                latest = {
                    name: stack.client(tokens[name]).get("/api/events/?since=0").json()["seq"] for name in listeners
                }
                deadline = resumed + 10
                while time.monotonic() < deadline and any(
                    len(listeners[name].frames) < latest[name] for name in listeners
                ):
                    time.sleep(0.1)
                time.sleep(1)  # and nothing arrives twice afterwards
                for name, listener in listeners.items():
                    assert [frame["seq"] for frame in listener.frames] == list(range(1, latest[name] + 1)), name
            finally:
                for listener in listeners.values():
                    listener.close()
    finally:
        redis_server.resume()
        redis_server.kill()


@requires_postgres
def test_a_request_waiting_on_a_held_row_lock_answers_503_in_bounded_time():
    with Stack(extra_env={"DB_LOCK_TIMEOUT_MS": "500"}) as stack:
        customer = stack.client(stack.login("customer1"))
        mitra = stack.client(stack.login("mitra1"))
        session_id = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 10}).json()["session_id"]
        with psycopg.connect(stack.database_url) as holder:  # another writer holds the request's row
            holder.execute("SELECT 1 FROM chat_sessions WHERE id = %s FOR UPDATE", [session_id])
            started = time.monotonic()
            answer = mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/")
            waited = time.monotonic() - started
            holder.rollback()
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        assert waited < 3
        # Nothing changed: the accept goes through once the lock is gone.
        assert mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200


@requires_postgres
def test_a_killed_pooled_connection_never_reaches_a_request():
    """Every idle connection of the stack's pools is terminated by the server; half a second
    later, calls find fresh connections (checked as the pool hands them out): no 503."""
    with Stack() as stack:
        mitra = stack.client(stack.login("mitra1"))
        for _ in range(20):  # every web process's pool holds a few warm connections now
            assert mitra.get("/api/mitra/me/").status_code == 200
        with psycopg.connect(stack.database_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
            ).fetchone()[0]
        assert killed >= 2
        time.sleep(0.5)
        codes = [mitra.get("/api/mitra/me/").status_code for _ in range(30)]
        assert codes == [200] * 30
