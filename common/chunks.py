"""Lists of ids cut to a size one statement can bind.

PostgreSQL takes at most 65,535 bind parameters in a statement, and Django's `__in` binds
one per value: a list that grows with a fan-out (every notified mitra, every device, every
offer) goes through `chunks`, so each statement binds a bounded number whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

# Far below the limit, and large enough that a fan-out of thousands is still one statement.
IDS_PER_STATEMENT = 10_000


def chunks(items: Iterable[T], size: int = IDS_PER_STATEMENT) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, in order."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
