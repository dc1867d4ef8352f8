"""The real stack (daphne, Celery worker and beat, Redis) over real HTTP and WebSockets.

Each case runs against both starts: `make run`'s (one launcher, demo accounts) and the
production shape (the release step, accounts made with `create_account`, then two
`launcher serve` hosts on one PostgreSQL database and one Redis). On two hosts the
customers use host A and the mitras host B, so every request crosses hosts: created on
A, offered to mitras connected to B, accepted there, told to the customer on A."""

from __future__ import annotations

import json
import re
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from devtools.stack import Stack

pytestmark = pytest.mark.e2e
FRAME_TIMEOUT = 10


CUSTOMER_HOST, MITRA_HOST = 0, -1  # the same host when there is one


@pytest.fixture(scope="module", params=["make run", "production, two hosts"])
def stack(request):
    production = request.param != "make run"
    with Stack(production=production, hosts=2 if production else 1) as running:
        yield running


def host_of(name: str) -> int:
    return MITRA_HOST if name.startswith("mitra") else CUSTOMER_HOST


def receive(ws, event: str) -> dict:
    frame = json.loads(ws.recv(timeout=FRAME_TIMEOUT))
    assert frame["type"] == event, frame
    return frame


def test_events_reach_every_socket_across_processes(stack):
    with ExitStack() as sockets:
        _events_scenario(stack, lambda *args, **kwargs: sockets.enter_context(connect(*args, **kwargs)))


def _events_scenario(stack, open_socket):
    names = ("mitra1", "mitra2", "mitra3", "customer1", "customer2")
    tokens = {name: stack.login(name, host=host_of(name)) for name in names}
    ws_url = {name: stack.hosts[host_of(name)].ws_url for name in names}
    mitras = {
        name: open_socket(f"{ws_url[name]}/ws/mitra/?token={tokens[name]}") for name in ("mitra1", "mitra2", "mitra3")
    }
    customer_ws = open_socket(
        f"{ws_url['customer1']}/ws/customer/", additional_headers={"Authorization": f"Token {tokens['customer1']}"}
    )
    customer2_ws = open_socket(f"{ws_url['customer2']}/ws/customer/?token={tokens['customer2']}")
    for ws in mitras.values():
        assert receive(ws, "hello")["data"] == {"pending": []}
    for ws in (customer_ws, customer2_ws):
        assert receive(ws, "hello")["data"] == {}
    customer = stack.client(tokens["customer1"], host=CUSTOMER_HOST)
    customer2 = stack.client(tokens["customer2"], host=CUSTOMER_HOST)
    mitra1 = stack.client(tokens["mitra1"], host=MITRA_HOST)

    # new → taken / accepted / session.accepted
    session_id = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 15}).json()["session_id"]
    accepted_id = session_id
    for ws in mitras.values():
        assert receive(ws, "chat_request.new")["data"]["session_id"] == session_id
    assert mitra1.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200
    assert receive(mitras["mitra1"], "chat_request.accepted")["data"]["status"] == "accepted"
    for name in ("mitra2", "mitra3"):
        assert receive(mitras[name], "chat_request.taken")["data"]["message"] == "Permintaan diterima oleh Bestie lain"
    assert receive(customer_ws, "session.accepted")["data"]["mitra"]["display_name"] == "Bestie Ayu"

    # cancelled
    session_id = customer2.post("/api/customer/chat-requests/", json={"duration_minutes": 10}).json()["session_id"]
    for ws in mitras.values():
        receive(ws, "chat_request.new")
    assert customer2.post(f"/api/customer/chat-requests/{session_id}/cancel/").status_code == 200
    for ws in mitras.values():
        assert receive(ws, "chat_request.cancelled")["data"]["session_id"] == session_id
    assert receive(customer2_ws, "session.cancelled")["data"]["status"] == "cancelled"

    # expired by the beat sweep in the Celery worker, delivered by daphne
    stack.manage("appconfig", "request_timeout_seconds=2")
    session_id = customer2.post("/api/customer/chat-requests/", json={"duration_minutes": 10}).json()["session_id"]
    for ws in mitras.values():
        receive(ws, "chat_request.new")
    started = time.monotonic()
    for ws in mitras.values():
        expired = receive(ws, "chat_request.expired")
        assert expired["data"]["session_id"] == session_id
        assert expired["data"]["my_response"] == "ignored"
    assert receive(customer2_ws, "session.expired")["data"]["expire_reason"] == "timeout"
    assert time.monotonic() - started < 6
    rows = stack.client(tokens["mitra2"], host=MITRA_HOST).get("/api/mitra/chat-requests/history/").json()["results"]
    assert rows[0]["session_id"] == session_id and rows[0]["response"] == "ignored"

    # A reconnecting app rebuilds its queue from hello.
    stack.manage("appconfig", "request_timeout_seconds=60")
    session_id = customer2.post("/api/customer/chat-requests/", json={"duration_minutes": 10}).json()["session_id"]
    mitras["mitra3"].close()
    again = open_socket(f"{ws_url['mitra3']}/ws/mitra/?token={tokens['mitra3']}")
    assert [v["session_id"] for v in receive(again, "hello")["data"]["pending"]] == [session_id]
    again.send(json.dumps({"type": "ping"}))
    assert json.loads(again.recv(timeout=FRAME_TIMEOUT)) == {"type": "pong"}
    assert receive(mitras["mitra1"], "chat_request.new")["data"]["session_id"] == session_id

    # The accepted session's time runs out: beat moves it to closing, then closed.
    stack.manage("appconfig", "closing_grace_seconds=1")
    stack.manage(
        "shell", "-c",
        "from django.utils import timezone; from pairing.models import ChatRequest; "
        f"ChatRequest.objects.filter(id='{accepted_id}').update(ends_at=timezone.now())",
    )  # fmt: skip
    for ws in (mitras["mitra1"], customer_ws):
        closing = receive(ws, "session.closing")
        assert (closing["data"]["session_id"], closing["data"]["status"]) == (accepted_id, "closing")
    for ws in (mitras["mitra1"], customer_ws):
        assert receive(ws, "session.closed")["data"]["closed_at"]


def test_tokens_never_reach_the_access_log(stack):
    token = stack.login("mitra1")
    httpx.get(f"{stack.url}/api/mitra/me/?token={token}&x=1", headers={"Authorization": f"Token {token}"})
    with connect(f"{stack.ws_url}/ws/mitra/?token={token}") as ws:
        receive(ws, "hello")
    deadline = time.monotonic() + 5
    while "GET /api/mitra/me/?token=***&x=1" not in stack.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = stack.log()
    assert "GET /api/mitra/me/?token=***&x=1" in log and "WSCONNECT /ws/mitra/" in log
    access = [line for line in log.splitlines() if '"GET ' in line or '"WS' in line]
    assert access and not [line for line in access if token in line]  # (make run prints the demo tokens once)


def test_bad_token_socket_is_closed_4401(stack):
    with connect(f"{stack.ws_url}/ws/mitra/?token={'0' * 40}") as ws:
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=FRAME_TIMEOUT)
        assert ws.close_code == 4401, closed.value


def test_ctrl_c_stops_everything_make_run_started():
    with Stack(extra_env={"REDIS_URL": ""}) as stack:  # no REDIS_URL: the embedded Redis
        started = stack.processes()
        commands = " | ".join(started.values())
        for name in ("daphne", "celery -A halobestie worker", "celery -A halobestie beat", "redis-server"):
            assert name in commands, commands
        assert "Embedded Redis on redis://127.0.0.1:" in stack.log()
        assert stack.login("customer1")  # the demo accounts exist and sign in
    # Stack's exit is Ctrl-C (SIGINT) to the launcher, then a wait for it.
    assert stack.process.returncode == 0
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert alive == [], {pid: started[pid] for pid in alive}


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


SIGN_IN_PAGES = ["/control-center/login/", "/admin/login/"]
FAILURE_LIMIT = 5  # LOGIN_FAILURE_LIMIT's default
ATTEMPTS = 20


def _wrong_password(stack, path: str, username: str, attempt: int) -> httpx.Response:
    """One wrong password; on several hosts, each attempt at the next host (locks are the
    database's, so they hold across hosts)."""
    url = stack.hosts[attempt % len(stack.hosts)].url
    if path.startswith("/api/"):
        return httpx.post(f"{url}{path}", json={"username": username, "password": "wrong"}, timeout=30)
    with httpx.Client(base_url=url, timeout=30) as browser:
        form = browser.get(path).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        return browser.post(path, data={"username": username, "password": "wrong", "csrfmiddlewaretoken": token})


@pytest.mark.parametrize("path", ["/api/auth/token/", *SIGN_IN_PAGES])
def test_every_locked_sign_in_answers_the_lock_through_the_real_server(stack, path):
    username = f"intruder-{path.strip('/').replace('/', '-')}"
    statuses = []
    for attempt in range(1, ATTEMPTS + 1):
        response = _wrong_password(stack, path, username, attempt)
        statuses.append(response.status_code)
        if attempt in (FAILURE_LIMIT, FAILURE_LIMIT + 1, ATTEMPTS):  # reaches the limit, the next, the 20th
            assert response.status_code == 429, (path, attempt, response.text[:500])
            if path.startswith("/api/"):
                assert response.json()["error"]["code"] == "throttled" and int(response.headers["Retry-After"]) > 0
            else:
                assert "Too many sign-in attempts" in response.text
    before = 400 if path.startswith("/api/") else 200
    assert statuses == [before] * (FAILURE_LIMIT - 1) + [429] * (ATTEMPTS - FAILURE_LIMIT + 1), statuses


def test_the_production_start_creates_no_account_and_applies_nothing(stack):
    if not stack.production:
        pytest.skip("make run's start creates the demo accounts by design")
    for host in stack.hosts:
        log = host.log()
        assert "Demo accounts" not in log and "Applying " not in log, log
    assert "Created staff account 'staff'" not in "".join(host.log() for host in stack.hosts)
