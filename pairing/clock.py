"""The one clock that decides when a request expires and a session moves on: the
database's. Hosts whose clocks differ by a few seconds still agree on every expiry,
because each decision reads the time from the same place it writes it."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone


def now() -> datetime:
    """The database's current time (PostgreSQL's `statement_timestamp()`); SQLite, which runs
    on the same host as the process, has no clock of its own to offer."""
    if connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]
