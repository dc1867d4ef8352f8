"""Formatting for the control center: rates always with their sample size, and every
number of the activity table a link to the log rows behind it."""

from __future__ import annotations

from datetime import date
from functools import cache, lru_cache
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def rate(part: int, whole: int) -> str:
    """'75% (3 of 4)', so that 1 of 1 is not read as 100% of a real record; '— (0)' with no sample."""
    if not whole:
        return "— (0)"
    return f"{100 * part / whole:.0f}% ({part} of {whole})"


@register.filter
def percent_of(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else ""


@register.filter
def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


BASE = ("accepted", "rejected", "ignored")
ANSWERS = ("accepted", "rejected")
COUNTS = ("accepted", "rejected", "ignored", "missed", "cancelled", "pending")


class RowsBehind:
    """Links to the log rows (or force-closes) behind a number, for some mitras and days.

    Built by string concatenation from parts encoded once: 500 rows of 14 links each
    through `urlencode` and `reverse` cost more than the page's queries."""

    def __init__(self, dates: tuple, mitra_ids: list[int] | None) -> None:
        scope = _scope(dates, mitra_ids)
        self.log = f"{_url('control-center:log')}?{scope}"
        self.closures = f"{_url('control-center:force-closes')}?{scope}"
        self.sessions = f"{_url('control-center:requests')}?{scope}&outcome=accepted&day_of=accepted"

    def href(
        self,
        *,
        responses: tuple[str, ...] = (),
        delivered: bool = False,
        seen: bool = False,
        closures: bool = False,
        sessions: bool = False,
    ) -> str:
        """The link, already escaped for an attribute (dates, ids and our codes need only `&`)."""
        if sessions:  # the sessions a mitra accepted in the range: the early-end rate's sample
            return self.sessions.replace("&", "&amp;")
        base = self.closures if closures else self.log
        return f"{base}{_narrowing(responses, delivered, seen)}".replace("&", "&amp;")


@cache
def _url(name: str) -> str:
    return reverse(name)


def _scope(dates: tuple, mitra_ids: list[int] | None) -> str:
    """The query of some days and mitras, shared by every link behind a number."""
    return _days(dates[0], dates[1]) + "".join(f"&mitra={int(i)}" for i in mitra_ids or ())


@lru_cache(maxsize=16)
def _days(date_from: date, date_to: date) -> str:
    return urlencode([("date_from", date_from.isoformat()), ("date_to", date_to.isoformat())])


@lru_cache(maxsize=64)
def _narrowing(responses: tuple[str, ...], delivered: bool, seen: bool = False) -> str:
    params = [("response", r) for r in responses] + ([("delivered", "yes")] if delivered else [])
    params += [("seen", "yes")] if seen else []
    return f"&{urlencode(params)}" if params else ""


def _a(href: str, text: object) -> str:
    return f'<a href="{href}">{text}</a>'


def row_cells(row, rows: RowsBehind) -> list[str]:
    """The cells after the name; a count links to its rows, a rate to its sample (the
    log shows each row's response and delivery). Built as strings (numbers and our own URLs need no
    escaping): 500 rows of template nodes were the slowest part of the page."""
    link = rows.href
    avg_active = "—" if row.avg_active_session_count is None else f"{row.avg_active_session_count:.2f}"
    answered = f" <small>n={row.answered}</small>" if row.answered else ""
    return [
        _a(link(), row.notified),
        *(_a(link(responses=(name,)), getattr(row, name)) for name in COUNTS),
        _a(link(responses=BASE), rate(row.accepted, row.rate_base)),
        _a(link(), rate(row.delivered, row.notified)),
        _a(link(delivered=True), rate(row.delivered_answered, row.delivered)),
        _a(link(delivered=True, responses=BASE), rate(row.delivered_accepted, row.delivered_rate_base)),
        _a(link(responses=ANSWERS), seconds(row.avg_response_seconds)) + answered,
        _a(link(), avg_active),
        _a(link(sessions=True), rate(row.early_ends, row.accepted_sessions)),
    ]


COLUMNS = 16


@register.simple_tag
def activity_rows(rows: list, dates: tuple, detail_suffix: str) -> SafeString:
    """The activity table's body, one string per row (like the admin's `items_for_result`)."""
    if not rows:
        return mark_safe(f'<tr><td colspan="{COLUMNS}" class="empty">No mitras match.</td></tr>')
    lines = []
    for row in rows:
        detail = f"{_url('control-center:mitra-activity')}{row.mitra_id}/{detail_suffix}"
        cells = "".join(f'<td class="num">{cell}</td>' for cell in row_cells(row, RowsBehind(dates, [row.mitra_id])))
        lines.append(f'<tr><th scope="row"><a href="{escape(detail)}">{escape(row.display_name)}</a></th>{cells}</tr>')
    return mark_safe("\n".join(lines))


@register.simple_tag
def activity_totals(totals, dates: tuple, mitra_ids: list[int] | None) -> SafeString:
    cells = "".join(f'<td class="num">{cell}</td>' for cell in row_cells(totals, RowsBehind(dates, mitra_ids)))
    return mark_safe(f'<tr><th scope="row">Total</th>{cells}</tr>')


@register.simple_tag
def rows_behind(dates: tuple, mitra_ids: list[int] | None = None, **kwargs) -> SafeString:
    """A link to log rows from a template: {% rows_behind dates ids responses="missed" delivered=1 %}."""
    responses = tuple(r for r in kwargs.get("responses", "").split(",") if r)
    href = RowsBehind(dates, mitra_ids).href(
        responses=responses, delivered=bool(kwargs.get("delivered")), seen=bool(kwargs.get("seen")),
        closures=bool(kwargs.get("closures")), sessions=bool(kwargs.get("sessions")),
    )  # fmt: skip
    return mark_safe(href)  # escaped by `href`


@register.filter
def seconds_after(later, earlier) -> str:
    return "—" if later is None or earlier is None else seconds((later - earlier).total_seconds())


@register.simple_tag
def hour_rows(
    kind: str, dates: tuple, mitra_ids: list[int] | None, hour: int, outcome: str = "", delivered: int = 0
) -> SafeString:
    """A link to the requests (`kind="requests"`, optionally of one outcome) or the log rows
    (`kind="log"`) of one hour of the day, for the hourly view's numbers."""
    scope = _scope(dates, mitra_ids)
    extra = (f"&outcome={outcome}" if outcome else "") + ("&delivered=yes" if delivered else "")
    return mark_safe(f"{_url(f'control-center:{kind}')}?{scope}&hour={int(hour)}{extra}".replace("&", "&amp;"))
