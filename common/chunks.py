"""Lists of ids cut to a size one statement can bind, and deletes of many rows cut into
short transactions.

PostgreSQL takes at most 65,535 bind parameters in a statement, and Django's `__in` binds
one per value: a list that grows with a fan-out (every notified mitra, every device, every
offer) goes through `chunks`, so each statement binds a bounded number whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

from django.db import transaction
from django.db.models import QuerySet

T = TypeVar("T")

# Far below the limit, and large enough that a fan-out of thousands is still one statement.
IDS_PER_STATEMENT = 10_000


def chunks(items: Iterable[T], size: int = IDS_PER_STATEMENT) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, in order."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def delete_in_batches(rows: QuerySet, size: int = IDS_PER_STATEMENT) -> int:
    """Delete the rows `size` at a time, each batch its own transaction (never many locks,
    nor for long); returns how many went. Each batch names its rows by a subquery, so no
    statement binds more than the query's own parameters."""
    deleted = 0
    while True:
        with transaction.atomic():
            count, _ = rows.model.objects.filter(pk__in=rows.values("pk")[:size]).delete()
        deleted += count
        if count < size:
            return deleted
