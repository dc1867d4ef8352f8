"""Sign-in locks for Prometheus: django-axes' user_locked_out signal, counted."""

from __future__ import annotations

from typing import Any

from common import metrics

LOCKOUTS = metrics.counter(
    "signin_lockouts_total",
    "Sign-ins refused by a lock: the failure that reaches the limit and each try while locked, by where.",
    ["where"],
)
for _where in ("api", "pages"):
    LOCKOUTS.labels(_where)


def locked_out(request: Any = None, **_: Any) -> None:
    path = getattr(request, "path", "") or ""
    LOCKOUTS.labels("api" if path.startswith("/api/") else "pages").inc()


def connect() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(locked_out, dispatch_uid="accounts.metrics.locked_out")
