"""Operations on the real stack: Debian's Prometheus server scrapes the stack's metrics
process (every web process, the worker and beat in one scrape) and evaluates the alert
rules of ops/prometheus; with Redis gone, committed events pile up in the outbox and the
outbox-lag alert goes pending, then clears once Redis is back. With LOG_FORMAT=json the
stack writes JSON lines, and a request's id follows it into the Celery task it queued.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devtools.launcher import free_port
from devtools.stack import Stack
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parents[2] / "ops" / "prometheus" / "alerts.yml"
PROMETHEUS = shutil.which("prometheus")


class Prometheus:
    """Debian's prometheus server on loopback, in a temporary directory, scraping one target
    every second and evaluating the repository's alert rules every second."""

    def __init__(self, target: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="halobestie-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "prometheus.yml").write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [{"job_name": "halobestie", "static_configs": [{"targets": [target]}]}],
                }
            )
        )
        self.log = (self.dir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        until(lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, 30, "prometheus ready")

    def query(self, expr: str) -> list[dict]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def alert_state(self, name: str) -> str | None:
        alerts = httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return next((alert["state"] for alert in alerts if alert["labels"]["alertname"] == name), None)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def until(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


@pytest.fixture(scope="module")
def stack(redis_server) -> Iterator[Stack]:
    metrics_port = free_port()
    env = {"REDIS_URL": redis_server.url, "METRICS_PORT": str(metrics_port), "LOG_FORMAT": "json"}
    with Stack(extra_env=env) as running:
        running.metrics_port = metrics_port
        yield running


def test_json_logs_carry_a_requests_id_into_its_task_and_never_a_token(stack):
    token = stack.login("customer1")
    customer = stack.client(token)
    created = customer.post(
        "/api/customer/chat-requests/?token=leaked-in-a-url",
        json={"duration_minutes": 10},
        headers={"X-Request-ID": "e2e-request-0001"},
    )
    assert created.status_code == 201 and created.headers["X-Request-ID"] == "e2e-request-0001"
    customer_id = created.json()["customer"]["user_id"]

    def records() -> list[dict]:
        return [json.loads(line) for line in stack.log().splitlines() if line.startswith("{")]

    # The offline mitras' push task ran in the worker, logged under the request's ids.
    task = until(
        lambda: [r for r in records() if r.get("logger") == "halobestie.tasks" and r.get("request_id")],
        30, "the push task's log line",
    )[0]  # fmt: skip
    assert task["request_id"] == "e2e-request-0001" and task["user_id"] == customer_id
    assert task["task"] == "pairing.tasks.push_new_request" and task["level"] == "INFO" and task["time"]
    access = [r for r in records() if r.get("logger") == "daphne.access" and "chat-requests/?" in r["request"]]
    assert [(r["request"], r["status"]) for r in access] == [("POST /api/customer/chat-requests/?token=***", 201)]
    # The launcher's own lines come first (the demo accounts it seeds, with their tokens);
    # from the first process's first line on, every line but "is up" is a JSON object.
    lines = stack.log().splitlines()
    ours = [line for line in lines[next(i for i, line in enumerate(lines) if line.startswith("{")) :] if line.strip()]
    assert [line for line in ours if not line.startswith(("{", "Halobestie is up"))] == []
    assert not [line for line in ours if "leaked-in-a-url" in line or token in line]


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed (.ci/run installs it)")
def test_prometheus_scrapes_every_process_and_the_outbox_lag_alert_goes_pending_then_clears(stack, redis_server):
    prometheus = Prometheus(f"127.0.0.1:{stack.metrics_port}")
    try:
        until(lambda: prometheus.scalar('up{job="halobestie"}') == 1, 30, "a successful scrape")
        webs = len(stack.pids("daphne"))
        until(lambda: prometheus.scalar('count(halobestie_process_up{kind="web"})') == webs, 20, "every web process")
        assert prometheus.scalar("halobestie_web_processes_expected") == webs
        # the worker, the push worker and beat
        assert prometheus.scalar('count(halobestie_process_up{kind=~"worker|beat"})') == 3
        assert prometheus.scalar("sum(halobestie_http_requests_total)") > 0  # daphne's async path, counted
        assert prometheus.scalar("halobestie_outbox_lag_seconds") == 0
        assert prometheus.alert_state("HalobestieOutboxLag") is None

        redis_server.kill()  # sockets, push and the relay's broker all go through it
        customer = stack.client(stack.login("customer2"))
        assert customer.post("/api/customer/chat-requests/", json={"duration_minutes": 10}).status_code == 201
        until(lambda: prometheus.alert_state("HalobestieOutboxLag") == "pending", 60, "the outbox-lag alert pending")
        assert prometheus.scalar("halobestie_outbox_lag_seconds") > 20

        redis_server.start()
        until(lambda: prometheus.alert_state("HalobestieOutboxLag") is None, 60, "the outbox-lag alert to clear")
        assert prometheus.scalar("halobestie_outbox_lag_seconds") < 20
        until(lambda: prometheus.scalar("halobestie_outbox_relayed_events_total") >= 1, 20, "the relay's re-send")
    finally:
        prometheus.stop()
