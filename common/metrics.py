"""Prometheus metrics: every process of a host in one scrape, served on a private port.

The launcher gives every process it starts one PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode): each web process, the worker (and its children) and beat write their
counters, gauges and histograms to memory-mapped files there, and the metrics process
(`python -m common.metrics_server`, started by the launcher when METRICS_PORT is set) reads them
all on each scrape. It listens on METRICS_ADDR (default 127.0.0.1), never on the public
port: bind it to a private interface for the Prometheus server of the deployment.

Without PROMETHEUS_MULTIPROC_DIR (tests, a shell) the same metrics live in the process's
own registry. Metrics that are a state rather than a count (outbox lag, mitras online,
queue depth) are read when scraped, by the collectors named in settings.METRICS_COLLECTORS.

Names follow Prometheus' conventions: `halobestie_` first, a unit last (`_seconds`),
`_total` for counters.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)

PREFIX = "halobestie_"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Latency buckets in seconds, from a fast API call to a stalled one.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def counter(name: str, documentation: str, labels: Iterable[str] = ()) -> Counter:
    return Counter(PREFIX + name, documentation, list(labels))


def histogram(name: str, documentation: str, labels: Iterable[str] = (), buckets=LATENCY_BUCKETS) -> Histogram:
    return Histogram(PREFIX + name, documentation, list(labels), buckets=buckets)


def gauge(name: str, documentation: str, labels: Iterable[str] = (), mode: str = "livesum") -> Gauge:
    """A gauge pushed by the processes; `mode` says how processes combine ("liveall" keeps
    one series per live process, with its `pid`)."""
    return Gauge(PREFIX + name, documentation, list(labels), multiprocess_mode=mode)


# -- processes ------------------------------------------------------------------------------

PROCESS_UP = gauge("process_up", "1 for each live process of this host, by kind (web, worker, beat).",
                   ["kind"], mode="liveall")  # fmt: skip


def process_started(kind: str) -> None:
    """Count this process as live until it exits (web processes, the worker, beat)."""
    PROCESS_UP.labels(kind).set(1)


# -- HTTP -----------------------------------------------------------------------------------

HTTP_REQUESTS = counter("http_requests_total", "HTTP requests answered, by view, method and status.",
                        ["view", "method", "status"])  # fmt: skip
HTTP_DURATION = histogram(
    "http_request_duration_seconds", "Time from the request reaching Django to its response, by view.",
    ["view", "method"],
)  # fmt: skip
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def view_name(request: Any) -> str:
    """The URL pattern that answered (a fixed set, unlike paths); `unmatched` for a 404 of no route."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def observe_request(request: Any, status: int, seconds: float) -> None:
    method = request.method if request.method in METHODS else "other"
    view = view_name(request)
    HTTP_REQUESTS.labels(view, method, str(status)).inc()
    HTTP_DURATION.labels(view, method).observe(seconds)


# -- the metrics process --------------------------------------------------------------------

_PID_IN_FILE = re.compile(r"_(\d+)\.db$")


def forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes that exited (a restarted web process, a worker
    child): their counters stay, summed, as Prometheus expects of a counter."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        found = _PID_IN_FILE.search(name)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, someone else's


class HostCollector:
    """What the metrics process knows of the host: how many web processes it should have."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def collect(self):
        if self.path:
            forget_dead_processes(self.path)
        expected = GaugeMetricFamily(
            PREFIX + "web_processes_expected", "Web processes the launcher keeps running (WEB_CONCURRENCY)."
        )
        # The launcher's count: WEB_CONCURRENCY, or one per core.
        expected.add_metric([], float(max(1, int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1))))
        yield expected


class CeleryQueueCollector:
    """Tasks waiting in each Celery queue (the Redis broker's list of the queue)."""

    def __init__(self) -> None:
        import redis
        from django.conf import settings

        self.queues = sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *getattr(settings, "METRICS_CELERY_QUEUES", [])})
        # A scrape must not hang on a broker that does not answer.
        self.client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)

    def collect(self):
        family = GaugeMetricFamily(PREFIX + "celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        with self.client.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.llen(queue)
            lengths = pipe.execute()
        for queue, length in zip(self.queues, lengths, strict=True):
            family.add_metric([queue], length)
        yield family


class GuardedCollector:
    """A scrape-time collector whose failure (the database or Redis down) costs only its own
    metrics, and an error counted, never the scrape."""

    def __init__(self, name: str, inner: Any, after: Callable[[], None] | None = None) -> None:
        self.name, self.inner, self.after = name, inner, after

    def describe(self):
        return []

    def collect(self):
        started = time.monotonic()
        try:
            families = list(self.inner.collect())
        except Exception as exc:
            logger.warning("metrics collector %s failed: %s", self.name, exc)
            families = []
            failed = 1.0
        else:
            failed = 0.0
        finally:
            if self.after is not None:
                self.after()
        errors = GaugeMetricFamily(
            PREFIX + "collector_failed", "1 if this scrape-time collector failed on this scrape.", labels=["collector"]
        )
        errors.add_metric([self.name], failed)
        duration = GaugeMetricFamily(
            PREFIX + "collector_duration_seconds", "Time this scrape-time collector took.", labels=["collector"]
        )
        duration.add_metric([self.name], time.monotonic() - started)
        yield from families
        yield errors
        yield duration


def state(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """A gauge read at scrape time (by a collector), with no labels."""
    family = GaugeMetricFamily(PREFIX + name, documentation)
    family.add_metric([], value)
    return family


def scrape_registry() -> CollectorRegistry:
    """Every process's metrics (multiprocess mode) or this process's, and the collectors of
    settings.METRICS_COLLECTORS, read at each scrape."""
    from django.conf import settings
    from django.db import connections
    from django.utils.module_loading import import_string

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = CollectorRegistry()
    registry.register(HostCollector(path))  # first: it drops the live gauges of exited processes
    if path:
        MultiProcessCollector(registry, path)
    else:  # this process's own (a test, a shell)
        registry.register(REGISTRY)
    for dotted in getattr(settings, "METRICS_COLLECTORS", []):
        # The server answers each scrape in a thread of its own: its database connection ends with it.
        registry.register(GuardedCollector(dotted.rsplit(".", 1)[-1], import_string(dotted)(), connections.close_all))
    return registry
