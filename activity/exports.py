"""CSV downloads of the control center's lists, written for a person with a spreadsheet:
the columns under the page's own headers in the page's order, times in the control
center's time zone as ISO 8601 with their offset and no microseconds (a row the page
shows on 5 Dec is on 5 Dec in the file), rates as percentages. The JSON API keeps the
machine fields; these files are for reading.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from common import spreadsheet

from .selectors import HourRow

CHUNK = 2000


def local_time(value: datetime | None) -> str:
    """'2026-12-05T08:01:02+07:00': the control center's time zone, whole seconds."""
    return "" if value is None else timezone.localtime(value).replace(microsecond=0).isoformat()


def percent(part: float, whole: float) -> str:
    """'75.0%' (a spreadsheet reads it as 0.75 shown as a percentage); empty with no sample."""
    return f"{100 * part / whole:.1f}%" if whole else ""


def _number(value: float | None, decimals: int = 1) -> float | str:
    return "" if value is None else round(value, decimals)


Column = tuple[str, Callable[[Any], Any]]

ACTIVITY: list[Column] = [
    ("Mitra", lambda r: r.display_name),
    ("Notified", lambda r: r.notified),
    ("Accepted", lambda r: r.accepted),
    ("Rejected", lambda r: r.rejected),
    ("Ignored", lambda r: r.ignored),
    ("Missed", lambda r: r.missed),
    ("Cancelled", lambda r: r.cancelled),
    ("Pending", lambda r: r.pending),
    ("Acceptance", lambda r: percent(r.accepted, r.rate_base)),
    ("Delivered", lambda r: percent(r.delivered, r.notified)),
    ("Response rate", lambda r: percent(r.delivered_answered, r.delivered)),
    ("Acceptance (delivered)", lambda r: percent(r.delivered_accepted, r.delivered_rate_base)),
    ("Avg response (s)", lambda r: _number(r.avg_response_seconds)),
    ("Avg active sessions", lambda r: _number(r.avg_active_session_count, 2)),
    ("Early ends", lambda r: percent(r.early_ends, r.accepted_sessions)),
]


def _delivered(offer) -> str:
    return local_time(offer.delivered_at)


LOG: list[Column] = [
    ("Notified", lambda n: local_time(n.notified_at)),
    ("Mitra", lambda n: n.mitra.name),
    ("Response", lambda n: n.response or "pending"),
    ("Response time (s)", lambda n: _number(n.response_time_seconds)),
    ("Active sessions", lambda n: n.active_session_count),
    ("Delivered", _delivered),
    ("Delivered via", lambda n: n.delivered_via or ""),
    ("Seen", lambda n: local_time(n.seen_at)),
    ("Customer", lambda n: n.session.customer.name),
    ("Minutes", lambda n: n.session.duration_minutes),
    ("Request", lambda n: str(n.session_id)),
]
MITRA_LOG = [column for column in LOG if column[0] != "Mitra"]  # a mitra's page has no Mitra column


def _to_accept(s) -> float | str:
    return round((s.accepted_at - s.requested_at).total_seconds(), 1) if s.accepted_at else ""


def _status(s) -> str:
    return f"{s.status} ({s.get_expire_reason_display()})" if s.expire_reason else s.status


REQUESTS: list[Column] = [
    ("Requested", lambda s: local_time(s.requested_at)),
    ("Request", lambda s: str(s.id)),
    ("Customer", lambda s: s.customer.name),
    ("Minutes", lambda s: s.duration_minutes),
    ("Status", _status),
    ("Mitra", lambda s: s.mitra.name if s.mitra_id else ""),
    ("To accept (s)", _to_accept),
]


def _review(c) -> str:
    if c.reviewed_at:
        return f"reviewed by {c.reviewed_by.name} at {local_time(c.reviewed_at)}" + (
            f": {c.review_note}" if c.review_note else ""
        )
    return "over daily cap, not reviewed" if c.needs_review else "not reviewed"


CLOSURES: list[Column] = [
    ("When", lambda c: local_time(c.created_at)),
    ("Mitra", lambda c: c.initiator.name if c.initiator_id else ""),
    ("Reason", lambda c: c.get_reason_code_display()),
    ("Note", lambda c: c.reason_note),
    ("Customer", lambda c: c.session.customer.name),
    ("Served (min)", lambda c: _number(c.served_minutes, 0)),
    ("Booked (min)", lambda c: c.session.duration_minutes),
    ("Request", lambda c: str(c.session_id)),
    ("Over daily cap", lambda c: "yes" if c.needs_review else "no"),
    ("Review", _review),
]


def _hour(row: HourRow) -> str:
    return "All hours" if row.hour < 0 else f"{row.hour:02d}:00-{row.hour:02d}:59"


HOURS: list[Column] = [
    ("Hour", _hour),
    ("Requests", lambda r: r.requests),
    ("Accepted", lambda r: r.accepted),
    ("Expired", lambda r: r.expired),
    ("Cancelled", lambda r: r.cancelled),
    ("Acceptance", lambda r: percent(r.accepted, r.requests)),
    ("Offers", lambda r: r.offers),
    ("Delivered", lambda r: r.delivered),
    ("Response rate", lambda r: percent(r.delivered_answered, r.delivered)),
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _iterate(rows: Iterable) -> Iterator:
    return rows.iterator(chunk_size=CHUNK) if isinstance(rows, QuerySet) else iter(rows)


def download(columns: list[Column], rows: Iterable, filename: str) -> StreamingHttpResponse:
    """The rows as a streamed CSV (a year of log rows is large), with a byte order mark so
    that a spreadsheet reads the names' non-ASCII letters as UTF-8."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([header for header, _ in columns])
        for row in _iterate(rows):
            yield writer.writerow(spreadsheet.row([value(row) for _, value in columns]))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
