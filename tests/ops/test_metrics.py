"""The metrics an operator reads (common/metrics.py, each domain's metrics.py), through the
real database, channel layer, HTTP and sockets, in this process's registry: requests and
offers counted once from their committed events (a relay's second hand-over is not a
second request), sockets, fan-out and catch-ups, HTTP by view, pushes, sign-in locks,
and the states read when scraped."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import AsyncClient
from django.utils import timezone
from prometheus_client import generate_latest

from common import metrics
from pairing.accounts.services import set_mitra_availability
from pairing.events import bus
from pairing.events.models import EventBatch
from pairing.events.tasks import relay_events
from pairing.models import ChatRequest
from pairing.requests.services import accept_chat_request, create_chat_request, expire_overdue_requests
from tests.support import account, call, create_request, make_overdue, mitra_socket, next_frame, ws

pytestmark = pytest.mark.django_db(transaction=True)
ALERTS = Path(__file__).resolve().parents[2] / "ops" / "prometheus" / "alerts.yml"


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(f"halobestie_{name}", labels) or 0.0


class Delta:
    """How much some samples moved since this was made."""

    def __init__(self, *samples: tuple) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [value(name, **labels) - was for (name, labels), was in zip(self.samples, self.before, strict=True)]


def test_requests_are_counted_once_each_from_their_committed_events(make_customer, make_mitra):
    customer, other, third = make_customer(), make_customer(), make_customer()
    mitras = [make_mitra(), make_mitra()]
    moved = Delta(
        ("chat_requests_created_total", {}), ("offers_notified_total", {}), ("chat_requests_cancelled_total", {}),
        ("chat_requests_accepted_total", {}), ("chat_requests_expired_total", {"reason": "timeout"}),
        ("request_expiry_lateness_seconds_count", {}), ("outbox_relayed_events_total", {}),
    )  # fmt: skip
    cancelled = create_request(customer)
    assert customer.post(f"/api/customer/chat-requests/{cancelled}/cancel/").status_code == 200
    accepted = create_request(other)
    assert mitras[0].post(f"/api/mitra/chat-requests/{accepted}/accept/").status_code == 200
    overdue = create_request(third)
    make_overdue(overdue)
    expire_overdue_requests()
    assert moved() == [3, 6, 1, 1, 1, 1, 0]

    # The relay hands every event over again (as if a subscriber had failed): counted once.
    EventBatch.objects.update(dispatched_at=None, created_at=timezone.now() - timedelta(seconds=30))
    relay_events.apply()
    assert moved()[:6] == [3, 6, 1, 1, 1, 1]
    assert moved()[6] == EventBatch.objects.count() > 0


def test_a_request_no_mitra_could_be_offered_is_created_and_expired(make_customer, make_mitra):
    set_mitra_availability(mitra=make_mitra().user, is_available=False)
    moved = Delta(
        ("chat_requests_created_total", {}), ("chat_requests_expired_total", {"reason": "no_mitra_available"}),
        ("offers_notified_total", {}),
    )  # fmt: skip
    create_request(make_customer())
    assert moved() == [1, 1, 0]


def test_delivery_is_counted_by_how_it_was_proved_and_seen_once(make_customer, make_mitra):
    customer, mitra = make_customer(), make_mitra()
    session_id = create_request(customer)
    moved = Delta(("offers_delivered_total", {"via": "push"}), ("offers_seen_total", {}))
    path = f"/api/mitra/chat-requests/{session_id}/seen/"
    assert mitra.post(path, {"via": "push"}).status_code == 200
    assert mitra.post(path, {"via": "poll"}).status_code == 200  # the first proof stays: nothing more
    assert moved() == [1, 1]
    assert value("offers_delivered_total", via="poll") == value("offers_delivered_total", via="poll")


async def test_sockets_fan_out_catch_ups_and_resyncs_are_measured(monkeypatch):
    mitra, customer = await account("mitra"), await account("customer")
    for _ in range(4):  # five recipients: a broadcast, handed to this process's sockets in one pass
        await account("mitra")
    moved = Delta(
        ("websocket_connections", {"role": "mitra"}), ("fanout_latency_seconds_count", {}),
        ("socket_catch_ups_total", {}), ("socket_resyncs_total", {}), ("offers_delivered_total", {"via": "websocket"}),
    )  # fmt: skip
    comm = await mitra_socket(mitra)
    assert moved()[0] == 1
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    frame = await next_frame(comm, "chat_request.new")
    assert moved()[1] == 1  # this process's pass, from the commit
    await comm.send_json_to({"type": "ack", "seq": frame["seq"]})
    await asyncio.sleep(0.3)
    assert moved()[4] == 1
    await call(accept_chat_request)(mitra=mitra.user, session_id=session.id)  # to the acceptor's own group
    await next_frame(comm, "chat_request.accepted")
    assert moved()[1] == 2

    monkeypatch.setattr(bus, "_subscribers", [])  # the publish is lost: the hub finds the socket behind
    other = await account("customer")
    await call(create_chat_request)(customer=other.user, duration_minutes=10)
    assert (await comm.receive_json_from(6))["type"] == "chat_request.new"
    assert moved()[2] == 1

    resumed = await ws("/ws/mitra/", mitra.token + "&since=999")
    assert (await resumed.receive_json_from(3))["resync"] is True
    assert moved()[3] == 1
    await resumed.disconnect()
    await comm.disconnect()
    await asyncio.sleep(0.1)
    assert moved()[0] == 0


async def test_http_requests_are_counted_by_view_method_and_status_on_the_async_path():
    client = AsyncClient()
    moved = Delta(
        ("http_requests_total", {"view": "health", "method": "GET", "status": "200"}),
        ("http_request_duration_seconds_count", {"view": "health", "method": "GET"}),
        ("http_requests_total", {"view": "unmatched", "method": "GET", "status": "404"}),
        ("http_requests_total", {"view": "customer-chat-requests", "method": "POST", "status": "401"}),
    )  # fmt: skip
    given = await client.get("/api/health/", headers={"X-Request-ID": "probe-0123456789"})
    assert given.status_code == 200 and given["X-Request-ID"] == "probe-0123456789"
    made = await client.get("/api/no-such-thing/", headers={"X-Request-ID": "not an id\n"})
    assert made.status_code == 404 and re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])
    assert (await client.post("/api/customer/chat-requests/", {}, content_type="application/json")).status_code == 401
    assert moved() == [1, 1, 1, 1]


def test_push_attempts_and_offline_pushes_are_counted(make_customer, make_mitra):
    mitra = make_mitra()  # no socket open: the offer goes to its device by push
    assert mitra.post("/api/devices/", {"token": "device-token-" + "x" * 20, "platform": "android"}).status_code == 201
    moved = Delta(
        ("offline_pushes_total", {"kind": "new_request"}),
        ("push_attempts_total", {"kind": "new_request", "outcome": "not_sent"}),  # FCM is not configured in tests
    )
    create_request(make_customer())
    assert moved() == [1, 1]


def test_sign_in_locks_are_counted(make_mitra, settings):
    mitra = make_mitra()
    moved = Delta(("signin_lockouts_total", {"where": "api"}))
    codes = [
        mitra.client.post(
            "/api/auth/token/", {"username": mitra.user.username, "password": "wrong"}, format="json"
        ).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert codes[-2:] == [429, 429]  # the failure that reaches the limit, and one while locked
    assert moved() == [2]


def scrape() -> str:
    return generate_latest(metrics.scrape_registry()).decode()


def sample(text: str, name: str) -> float:
    found = re.search(rf"^halobestie_{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    assert found, f"{name} not in the scrape"
    return float(found.group(1))


def test_a_scrape_reads_outbox_lag_overdue_requests_mitras_and_queues(make_customer, make_mitra):
    make_mitra(), make_mitra()
    healthy = scrape()
    assert sample(healthy, "outbox_lag_seconds") == 0 and sample(healthy, "requests_overdue_seconds") == 0
    assert sample(healthy, "mitras_available") == 2 and sample(healthy, "mitras_online") == 0
    assert sample(healthy, "celery_queue_length") == 0
    session_id = create_request(make_customer())
    EventBatch.objects.update(dispatched_at=None, created_at=timezone.now() - timedelta(seconds=30))
    ChatRequest.objects.filter(id=session_id).update(expires_at=timezone.now() - timedelta(seconds=20))
    behind = scrape()
    assert 30 <= sample(behind, "outbox_lag_seconds") < 60
    assert sample(behind, "outbox_undispatched_events") == 1
    assert 20 <= sample(behind, "requests_overdue_seconds") < 60
    assert sample(behind, "collector_failed") == 0


def test_every_metric_an_alert_reads_is_exported():
    metrics.process_started("web")
    exported = set(re.findall(r"^(halobestie_\w+)", scrape(), re.M))
    wanted = set(re.findall(r"\bhalobestie_\w+", ALERTS.read_text()))
    assert wanted and wanted - exported == set()


class Failing:
    def collect(self):
        raise ConnectionError("Redis is down")


def test_a_failing_collector_costs_only_its_own_metrics():
    registry = metrics.CollectorRegistry()
    registry.register(metrics.GuardedCollector("Failing", Failing()))
    registry.register(metrics.HostCollector(None))
    text = generate_latest(registry).decode()
    assert 'halobestie_collector_failed{collector="Failing"} 1.0' in text
    assert "halobestie_web_processes_expected" in text


def test_live_gauges_of_processes_that_exited_are_dropped(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(dead.stdout), os.getpid()
    for pid in (dead_pid, live_pid):
        (tmp_path / f"gauge_liveall_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    metrics.forget_dead_processes(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead_pid}.db", f"counter_{live_pid}.db", f"gauge_liveall_{live_pid}.db"]
    )
