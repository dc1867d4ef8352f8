"""What a web process's sockets do, for Prometheus: open sockets by role (one series per
process), each fan-out pass's latency, catch-ups and resyncs; and, when scraped, how
many mitras are online and available. Called from single lines in hub and consumers."""

from __future__ import annotations

import time
from typing import Any

from common import metrics

from ..accounts.models import MitraProfile, Role
from . import presence

SOCKETS = metrics.gauge("websocket_connections", "Open app sockets, by role, one series per web process.",
                        ["role"], mode="liveall")  # fmt: skip
FANOUT_LATENCY = metrics.histogram(
    "fanout_latency_seconds",
    "From an event's commit (its outbox write) to the last socket send of its broadcast in this process"
    " (or, for an event to a few users' own groups, to each of their sockets' send).",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
CATCH_UPS = metrics.counter("socket_catch_ups_total", "Gaps a socket filled from the outbox before sending on.")
RESYNCS = metrics.counter("socket_resyncs_total", "Sockets told to resync (a gap no longer kept, a bad `since`).")

_counted: set[int] = set()  # the sockets in SOCKETS, by id: a socket counts once, and leaves once


def socket_opened(socket: Any) -> None:
    if id(socket) not in _counted:
        _counted.add(id(socket))
        SOCKETS.labels(socket.user.role).inc()


def socket_closed(socket: Any) -> None:
    if id(socket) in _counted:
        _counted.discard(id(socket))
        SOCKETS.labels(socket.user.role).dec()


def fanout_passed(message: dict[str, Any]) -> None:
    """A broadcast handed to every socket of this process: its latency from the commit."""
    committed_at = message.get("committed_at")
    if committed_at is not None:
        FANOUT_LATENCY.observe(max(0.0, time.time() - committed_at))


def gap_filled(stored: list | None) -> None:
    """A socket read a gap from the outbox: filled (events) or not kept (None: a resync follows)."""
    if stored:
        CATCH_UPS.inc()


def hello_sent(resync: bool) -> None:
    if resync:
        RESYNCS.inc()


class MitrasCollector:
    """Mitras with an open socket (presence), mitras who say they are available, and both."""

    def collect(self):
        online = presence.online_mitra_ids()
        available = set(
            MitraProfile.objects.filter(is_available=True, user__is_active=True, user__role=Role.MITRA).values_list(
                "user_id", flat=True
            )
        )
        for name, documentation, value in (
            ("mitras_online", "Mitras with an open app socket.", len(online)),
            ("mitras_available", "Active mitras whose availability is on (offered new requests).", len(available)),
            ("mitras_available_online", "Available mitras with an open app socket.", len(online & available)),
        ):
            yield metrics.state(name, documentation, value)
