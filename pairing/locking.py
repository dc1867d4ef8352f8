"""Row locks and transactions shared by the services of requests and sessions.

Every state change locks the session row first, so racing calls on one request or
session serialize; the sweeps skip rows someone else holds instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

from common.errors import DomainError

from .events.bus import changing

M = TypeVar("M", bound=Model)

SWEEP_BATCH_SIZE = 500
Refusal = Callable[[], DomainError]


class RefuseAfterCommit(Exception):
    """Raised inside `expiry_committed`: what the block wrote commits, then `make_error()`
    (built after commit, so it shows the request as it now is) is raised instead."""

    def __init__(self, make_error: Refusal) -> None:
        super().__init__()
        self.make_error = make_error


def locked(queryset: QuerySet[M]) -> QuerySet[M]:
    """Row locks on PostgreSQL; SQLite's IMMEDIATE transactions already serialize writers."""
    return queryset.select_for_update(of=("self",))


def sweep(due: QuerySet[M], apply: Callable[[M], None]) -> list[M]:
    """Apply a change to every due row in batches, one transaction a batch, skipping
    rows another sweep (or a request) holds: two sweeps at once never move a row twice."""
    done: list[M] = []
    while True:
        with changing():
            queryset = due.order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                queryset = queryset.select_for_update(skip_locked=True, of=("self",))
            batch = list(queryset[:SWEEP_BATCH_SIZE])
            for row in batch:
                apply(row)
        done.extend(batch)
        if len(batch) < SWEEP_BATCH_SIZE:
            return done


@contextmanager
def expiry_committed() -> Iterator[None]:
    """A transaction whose change may find the request overdue: the block expires it and
    raises `RefuseAfterCommit`; the expiry commits, and the refusal is raised after."""
    refusal: RefuseAfterCommit | None = None
    with changing():
        try:
            yield
        except RefuseAfterCommit as refused:
            refusal = refused
    if refusal is not None:
        raise refusal.make_error()
