"""Read queries of the activity log and the control center.

Every figure comes from `chat_request_notifications` (and sessions for the broadcast
health) restricted to the chosen range of `notified_at`, which an index covers, so a
query's time grows with the range shown, not with the whole table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import ExtractHour, Least, TruncDate
from django.utils import timezone

from common.days import day_start
from pairing.lifecycle import ACCEPTED_SESSION_STATUSES, ExpireReason, OfferResponse, SessionStatus
from pairing.models import ChatRequest, ClosureInitiator, Offer, Role, SessionClosure, User

from .models import MitraDailyActivity, RolledUpDay

R = OfferResponse
COUNTED = [R.ACCEPTED, R.REJECTED, R.IGNORED, R.MISSED, R.CANCELLED]
ANSWERED = Q(response__in=[R.ACCEPTED, R.REJECTED])
FIGURES = (
    "notified", "accepted", "rejected", "ignored", "missed", "cancelled", "response_time_sum", "answered",
    "active_session_sum", "delivered", "seen", "delivered_accepted", "delivered_rate_base", "delivered_answered",
)  # fmt: skip
DELIVERED = Q(delivered_at__isnull=False)


@dataclass
class ActivityRow:
    """One mitra's figures, or the totals. Averages are kept as sums so totals are exact."""

    mitra_id: int | None
    display_name: str
    notified: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0
    missed: int = 0
    cancelled: int = 0
    response_time_sum: float = 0.0
    answered: int = 0  # accepted + rejected rows with a response time
    active_session_sum: int = 0
    delivered: int = 0  # offers the app proved it received (section 11)
    seen: int = 0
    delivered_accepted: int = 0
    delivered_rate_base: int = 0  # delivered rows answered accepted, rejected or ignored
    delivered_answered: int = 0  # delivered rows the mitra answered (accepted or rejected)
    accepted_sessions: int = 0  # sessions accepted in the range (early-end rate's base)
    early_ends: int = 0

    @property
    def rate_base(self) -> int:
        return self.accepted + self.rejected + self.ignored

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.rate_base if self.rate_base else None

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.notified if self.notified else None

    @property
    def pending(self) -> int:
        """Offers with no response yet (their request still waits): why counts may not add up to notified."""
        return self.notified - self.accepted - self.rejected - self.ignored - self.missed - self.cancelled

    @property
    def response_rate(self) -> float | None:
        """Answered ÷ delivered: a mitra who lets every offer run out scores 0, whoever answered first."""
        return self.delivered_answered / self.delivered if self.delivered else None

    @property
    def delivered_acceptance_rate(self) -> float | None:
        """Acceptance over offers that reached the app: an offer that never arrived is not held against a mitra."""
        return self.delivered_accepted / self.delivered_rate_base if self.delivered_rate_base else None

    @property
    def avg_response_seconds(self) -> float | None:
        return self.response_time_sum / self.answered if self.answered else None

    @property
    def avg_active_session_count(self) -> float | None:
        return self.active_session_sum / self.notified if self.notified else None

    @property
    def early_end_rate(self) -> float | None:
        return self.early_ends / self.accepted_sessions if self.accepted_sessions else None

    def add(self, other: ActivityRow) -> None:
        for name in (*FIGURES, "accepted_sessions", "early_ends"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {
            "mitra_id": self.mitra_id,
            "display_name": self.display_name,
            "notified": self.notified,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "missed": self.missed,
            "cancelled": self.cancelled,
            "pending": self.pending,
            "acceptance_rate": self.acceptance_rate,
            "avg_response_seconds": self.avg_response_seconds,
            "avg_active_session_count": self.avg_active_session_count,
            "delivered": self.delivered,
            "seen": self.seen,
            "delivery_rate": self.delivery_rate,
            "delivered_answered": self.delivered_answered,
            "response_rate": self.response_rate,
            "delivered_acceptance_rate": self.delivered_acceptance_rate,
            "accepted_sessions": self.accepted_sessions,
            "early_ends": self.early_ends,
            "early_end_rate": self.early_end_rate,
        }


@dataclass
class ActivityTable:
    rows: list[ActivityRow]
    totals: ActivityRow = field(default_factory=lambda: ActivityRow(None, "Total"))


def _response_counts(responses=COUNTED) -> dict[str, Count]:
    """How many rows have each response, as aggregate expressions named by the response."""
    return {r.value: Count("id", filter=Q(response=r)) for r in responses}


def per_mitra(offers: QuerySet[Offer]) -> dict[int, dict]:
    """Each mitra's additive figures over some log rows (what a rollup row stores)."""
    rows = (
        offers.order_by()
        .values("mitra_id")
        .annotate(
            notified=Count("id"),
            response_time_sum=Sum("response_time_seconds", filter=ANSWERED, default=0.0),
            answered=Count("response_time_seconds", filter=ANSWERED),
            active_session_sum=Sum("active_session_count", default=0),
            delivered=Count("id", filter=DELIVERED),
            seen=Count("id", filter=Q(seen_at__isnull=False)),
            delivered_accepted=Count("id", filter=DELIVERED & Q(response=R.ACCEPTED)),
            delivered_rate_base=Count("id", filter=DELIVERED & Q(response__in=[R.ACCEPTED, R.REJECTED, R.IGNORED])),
            delivered_answered=Count("id", filter=DELIVERED & ANSWERED),
            **_response_counts(),
        )
    )
    return {row.pop("mitra_id"): row for row in rows}


def _early_ends(start: datetime, end: datetime, mitra_ids: list[int] | None) -> dict[int, tuple[int, int]]:
    """Per mitra: (sessions accepted in the range, how many of those it ended early)."""
    sessions = ChatRequest.objects.filter(accepted_at__gte=start, accepted_at__lt=end, mitra__isnull=False)
    if mitra_ids is not None:
        sessions = sessions.filter(mitra_id__in=mitra_ids)
    rows = (
        sessions.order_by()
        .values("mitra_id")
        .annotate(
            accepted=Count("id"),
            early=Count("id", filter=Q(closure__initiated_by=ClosureInitiator.MITRA)),
        )
    )
    return {row["mitra_id"]: (row["accepted"], row["early"]) for row in rows}


def _live_ranges(date_from: date, date_to: date, rolled: set[date]) -> Q | None:
    """The days not rolled up, as `notified_at` ranges (runs of consecutive days)."""
    condition, run_start = None, None
    for day in [*days_between(date_from, date_to), None]:
        if day is not None and day not in rolled:
            run_start = run_start or day
            continue
        if run_start is not None:
            end = day_start(day) if day is not None else day_start(date_to + timedelta(days=1))
            part = Q(notified_at__gte=day_start(run_start), notified_at__lt=end)
            condition = part if condition is None else condition | part
            run_start = None
    return condition


def figures_by_mitra(date_from: date, date_to: date, mitra_ids: list[int] | None) -> dict[int, dict]:
    """Additive figures per mitra over the days: rollups where a day is final, live rows elsewhere."""
    time_zone = settings.TIME_ZONE
    rolled = _rolled_days(date_from, date_to)
    figures: dict[int, dict] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))

    def add(rows: dict[int, dict]) -> None:
        for mitra_id, values in rows.items():
            for name, value in values.items():
                figures[mitra_id][name] += value or 0

    if rolled:
        rollups = MitraDailyActivity.objects.filter(time_zone=time_zone, day__in=sorted(rolled))
        if mitra_ids is not None:
            rollups = rollups.filter(mitra_id__in=mitra_ids)
        summed = rollups.order_by().values("mitra_id").annotate(**{name: Sum(name) for name in FIGURES})
        add({row.pop("mitra_id"): row for row in summed})
    live = _live_ranges(date_from, date_to, rolled)
    if live is not None:
        rows = Offer.objects.filter(live)
        if mitra_ids is not None:
            rows = rows.filter(mitra_id__in=mitra_ids)
        add(per_mitra(rows))
    return figures


def mitra_activity(
    date_from: date, date_to: date, mitra_ids: list[int] | None, sort: str = "-notified"
) -> ActivityTable:
    """One row per mitra (all mitras, or the chosen ones, with zeros where idle) and totals."""
    figures = figures_by_mitra(date_from, date_to, mitra_ids)
    early = _early_ends(day_start(date_from), day_start(date_to + timedelta(days=1)), mitra_ids)
    mitras = User.objects.filter(role=Role.MITRA)
    if mitra_ids is not None:
        mitras = mitras.filter(id__in=mitra_ids)
    table = ActivityTable(rows=[])
    for mitra_id, display_name, username in mitras.values_list("id", "display_name", "username"):
        row = ActivityRow(mitra_id, display_name or username, **figures.get(mitra_id, {}))
        row.accepted_sessions, row.early_ends = early.get(mitra_id, (0, 0))
        table.rows.append(row)
        table.totals.add(row)
    sort_rows(table.rows, sort)
    return table


def sort_rows(rows: list[ActivityRow], sort: str) -> None:
    """Sort by a column; rows without a value (no sample) always go last."""
    column = sort.lstrip("-")
    descending = sort.startswith("-")
    rows.sort(key=lambda r: (r.display_name.lower(), r.mitra_id))
    present = [r for r in rows if getattr(r, column) is not None]
    absent = [r for r in rows if getattr(r, column) is None]
    key = (lambda r: r.display_name.lower()) if column == "display_name" else (lambda r: getattr(r, column))
    present.sort(key=key, reverse=descending)
    rows[:] = present + absent


# --- broadcast health -------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY column)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass
class BroadcastHealth:
    requests: int
    accepted: int
    cancelled: int
    expired: int
    pending: int
    median_accept_seconds: float | None
    p90_accept_seconds: float | None

    @property
    def outcomes(self) -> list[tuple[str, int]]:
        """Each outcome with its count; pending is listed so that they add up to the requests."""
        return [("accepted", self.accepted), ("cancelled", self.cancelled), ("expired", self.expired),
                ("pending", self.pending)]  # fmt: skip


def _accept_seconds_percentiles(accepted: QuerySet[ChatRequest]) -> tuple[float | None, float | None]:
    if connection.vendor == "postgresql":
        seconds = Func(F("accepted_at") - F("requested_at"), template="EXTRACT(EPOCH FROM %(expressions)s)")
        result = accepted.aggregate(
            p50=PercentileCont(seconds, fraction=0.5), p90=PercentileCont(seconds, fraction=0.9)
        )
        return result["p50"], result["p90"]
    ordered = sorted((a - r).total_seconds() for r, a in accepted.values_list("requested_at", "accepted_at"))
    if not ordered:
        return None, None
    p90_index = (len(ordered) - 1) * 0.9
    low, high = int(p90_index), min(int(p90_index) + 1, len(ordered) - 1)
    return median(ordered), ordered[low] + (ordered[high] - ordered[low]) * (p90_index - low)


def broadcast_health(start: datetime, end: datetime) -> BroadcastHealth:
    """Requests made in the range, and how fast the first accept came."""
    sessions = ChatRequest.objects.filter(requested_at__gte=start, requested_at__lt=end).order_by()
    counts = sessions.aggregate(
        requests=Count("id"),
        accepted=Count("id", filter=Q(status__in=ACCEPTED_SESSION_STATUSES)),
        cancelled=Count("id", filter=Q(status=SessionStatus.CANCELLED)),
        expired=Count("id", filter=Q(status=SessionStatus.EXPIRED)),
        pending=Count("id", filter=Q(status=SessionStatus.PENDING)),
    )
    p50, p90 = _accept_seconds_percentiles(sessions.filter(accepted_at__isnull=False))
    return BroadcastHealth(**counts, median_accept_seconds=p50, p90_accept_seconds=p90)


# --- one mitra ----------------------------------------------------------------------


def _rolled_days(date_from: date, date_to: date) -> set[date]:
    return set(
        RolledUpDay.objects.filter(time_zone=settings.TIME_ZONE, day__gte=date_from, day__lte=date_to).values_list(
            "day", flat=True
        )
    )


def daily_counts(offers: QuerySet[Offer], days: list[date], mitra_ids: list[int] | None) -> list[dict]:
    """Per calendar day (control center's time zone): how many rows had each response; a
    rolled-up day's from its rollups (its rows may be past retention)."""
    rolled = _rolled_days(days[0], days[-1])
    by_day: dict[date, dict] = {}
    live = _live_ranges(days[0], days[-1], rolled)
    if live is not None:
        rows = offers.filter(live).order_by().annotate(day=TruncDate("notified_at")).values("day")
        by_day.update((row["day"], row) for row in rows.annotate(**_response_counts()))
    if rolled:
        rollups = MitraDailyActivity.objects.filter(time_zone=settings.TIME_ZONE, day__in=sorted(rolled))
        if mitra_ids is not None:
            rollups = rollups.filter(mitra_id__in=mitra_ids)
        summed = rollups.order_by().values("day").annotate(**{r.value: Sum(r.value) for r in COUNTED})
        by_day.update((row["day"], row) for row in summed)
    empty = dict.fromkeys((r.value for r in COUNTED), 0)
    return [{"day": day, **{k: by_day.get(day, empty)[k] for k in empty}} for day in days]


def acceptance_by_load(offers: QuerySet[Offer]) -> list[ActivityRow]:
    """Acceptance by active sessions at offer: 0, 1, 2 and 3 or more (one query)."""
    grouped = (
        offers.order_by()
        .annotate(load=Least("active_session_count", Value(3)))
        .values("load")
        .annotate(notified=Count("id"), **_response_counts())
    )
    by_load = {row.pop("load"): row for row in grouped}
    return [ActivityRow(None, label, **by_load.get(load, {})) for load, label in enumerate(("0", "1", "2", "3+"))]


def days_between(date_from: date, date_to: date) -> list[date]:
    return [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]


def log_kept_from(today: date | None = None) -> date | None:
    """The first day whose log rows are kept (settings.ACTIVITY_LOG_RETENTION_DAYS); None
    when every row is kept. Rows of earlier days go once their day is rolled up."""
    days = settings.ACTIVITY_LOG_RETENTION_DAYS
    if days <= 0:
        return None
    return (today or timezone.localdate()) - timedelta(days=days)


def before_retention(day: date) -> bool:
    """Whether the log rows of `day` may be gone (its figures then come from the rollups)."""
    kept_from = log_kept_from()
    return kept_from is not None and day < kept_from


def mitra_log(mitra: User, offers: QuerySet[Offer]) -> QuerySet[Offer]:
    return offers.filter(mitra=mitra).select_related("session", "session__customer").order_by("-notified_at", "-id")


# --- one request --------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    what: str
    who: str = ""
    detail: str = ""


def request_timeline(session: ChatRequest) -> list[TimelineEntry]:
    """Everything that happened to one request, in order: created, each offer's notified,
    delivered, seen and answer, the outcome, and the session's closing."""
    entries = [TimelineEntry(session.requested_at, "Requested", session.customer.name,
                             f"{session.duration_minutes} minutes")]  # fmt: skip
    for offer in session.offers.all():
        who = offer.mitra.name
        load = f"{offer.active_session_count} active sessions"
        entries.append(TimelineEntry(offer.notified_at, "Offered", who, load))
        if offer.delivered_at:
            entries.append(TimelineEntry(offer.delivered_at, "Delivered", who, f"via {offer.delivered_via}"))
        if offer.seen_at:
            entries.append(TimelineEntry(offer.seen_at, "Seen", who))
        answered_at = offer.responded_at or offer.resolved_at
        if offer.response and answered_at:
            took = f"after {offer.response_time_seconds:.1f} s" if offer.response_time_seconds is not None else ""
            entries.append(TimelineEntry(answered_at, offer.get_response_display(), who, took))
    mitra = session.mitra.name if session.mitra_id else ""
    for when, what, who, detail in (
        (session.accepted_at, "Session started", mitra, ""),
        (session.cancelled_at, "Cancelled by the customer", session.customer.name, ""),
        (session.expired_at, "Expired", "", session.get_expire_reason_display() if session.expire_reason else ""),
        (session.closing_started_at, "Closing grace started", *_closure_words(session)),
        (session.closed_at, "Closed", "", ""),
    ):
        if when:
            entries.append(TimelineEntry(when, what, who, detail))
    entries.sort(key=lambda e: e.at)
    return entries


def _closure_words(session: ChatRequest) -> tuple[str, str]:
    closure = getattr(session, "closure", None)
    if closure is None:
        return "", ""
    who = closure.initiator.name if closure.initiator_id else closure.get_initiated_by_display()
    note = f" — {closure.reason_note}" if closure.reason_note else ""
    return who, f"{closure.get_reason_code_display()}{note}"


def offers_past_retention(session: ChatRequest) -> bool:
    """Whether the request's log rows were deleted with its day (past the log's retention):
    it has none, yet it was offered (a request nobody could be offered has none either)."""
    return (
        session.expire_reason != ExpireReason.NO_MITRA_AVAILABLE
        and before_retention(timezone.localtime(session.requested_at).date())
        and not session.offers.all()
    )


def request_with_offers(session_id) -> ChatRequest:
    offers = Offer.objects.select_related("mitra").order_by("notified_at", "mitra__display_name")
    return (
        ChatRequest.objects.select_related("customer", "mitra", "closure", "closure__initiator")
        .prefetch_related(Prefetch("offers", offers))
        .get(id=session_id)
    )


# --- hours of the day ---------------------------------------------------------------


@dataclass
class HourRow:
    hour: int
    requests: int = 0
    accepted: int = 0
    expired: int = 0
    cancelled: int = 0
    offers: int = 0
    delivered: int = 0
    delivered_answered: int = 0  # the response rate is delivered_answered / delivered, as on ActivityRow


def all_hours(rows: list[HourRow]) -> HourRow:
    figures = ("requests", "accepted", "expired", "cancelled", "offers", "delivered", "delivered_answered")
    return HourRow(-1, **{name: sum(getattr(row, name) for row in rows) for name in figures})


def by_hour(start: datetime, end: datetime, mitra_ids: list[int] | None = None) -> list[HourRow]:
    """Requests per hour of the day (control center's time zone) and how many were
    accepted, for staffing: when customers ask, and when nobody takes them."""
    hours = {hour: HourRow(hour) for hour in range(24)}
    requests = ChatRequest.objects.filter(requested_at__gte=start, requested_at__lt=end)
    if mitra_ids is not None:
        requests = requests.filter(mitra_id__in=mitra_ids)
    for row in (
        requests.order_by()
        .annotate(hour=ExtractHour("requested_at"))
        .values("hour")
        .annotate(
            requests=Count("id"),
            accepted=Count("id", filter=Q(status__in=ACCEPTED_SESSION_STATUSES)),
            expired=Count("id", filter=Q(status=SessionStatus.EXPIRED)),
            cancelled=Count("id", filter=Q(status=SessionStatus.CANCELLED)),
        )
    ):
        hours[row.pop("hour")].__dict__.update(row)
    offers = Offer.objects.filter(notified_at__gte=start, notified_at__lt=end)
    if mitra_ids is not None:
        offers = offers.filter(mitra_id__in=mitra_ids)
    for row in (
        offers.order_by().annotate(hour=ExtractHour("notified_at")).values("hour")
        .annotate(offers=Count("id"), delivered=Count("id", filter=DELIVERED),
                  delivered_answered=Count("id", filter=DELIVERED & ANSWERED))
    ):  # fmt: skip
        hours[row.pop("hour")].__dict__.update(row)
    return list(hours.values())


def closures_of(mitra: User, start: datetime, end: datetime) -> QuerySet[SessionClosure]:
    """The sessions a mitra ended early in the range, newest first."""
    return early_ends(SessionClosure.objects.filter(initiator=mitra, created_at__gte=start, created_at__lt=end))


def early_ends(closures: QuerySet[SessionClosure]) -> QuerySet[SessionClosure]:
    """Of some closures, the mitras' early ends, newest first, with what their rows show."""
    return (
        closures.filter(initiated_by=ClosureInitiator.MITRA)
        .select_related("session", "session__customer", "initiator", "reviewed_by")
        .order_by("-created_at", "-id")
    )


# --- the top bar's search -----------------------------------------------------------

SEARCH_LIMIT = 20
HEX = frozenset("0123456789abcdef")


@dataclass
class Hit:
    kind: str  # "request", "mitra" or "customer"
    title: str
    detail: str
    url: str


def search(query: str) -> list[Hit]:
    """Requests whose id starts with the query (a whole id, or its first characters with
    or without dashes), then mitras and customers whose name or username contains it."""
    from django.urls import reverse

    words = query.strip()
    if not words:
        return []
    hits: list[Hit] = []
    digits = words.lower().replace("-", "")
    if len(digits) >= 4 and set(digits) <= HEX and len(digits) <= 32:
        low, high = digits.ljust(32, "0"), digits.ljust(32, "f")
        found = (
            ChatRequest.objects.filter(id__gte=_uuid(low), id__lte=_uuid(high))
            .select_related("customer", "mitra")
            .order_by("-requested_at")[:SEARCH_LIMIT]
        )
        for s in found:
            with_mitra = f" · {s.mitra.name}" if s.mitra_id else ""
            hits.append(Hit("request", str(s.id), f"{s.status} · {s.customer.name}{with_mitra}",
                            reverse("control-center:request", args=[s.id])))  # fmt: skip
    people = (
        User.objects.filter(role__in=[Role.MITRA, Role.CUSTOMER])
        .filter(Q(username__icontains=words) | Q(display_name__icontains=words))
        .order_by("role", "display_name", "username")[:SEARCH_LIMIT]
    )
    for user in people:
        if user.role == Role.MITRA:
            hits.append(Hit("mitra", user.name, f"mitra @{user.username}",
                            reverse("control-center:mitra-detail", args=[user.id])))  # fmt: skip
        else:
            query_string = f"customer={user.id}"
            hits.append(Hit("customer", user.name, f"customer @{user.username}",
                            f"{reverse('control-center:requests')}?{query_string}"))  # fmt: skip
    return hits[:SEARCH_LIMIT]


def _uuid(digits: str) -> str:
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
