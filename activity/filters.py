"""The control center's filters: date range (calendar days in the control center's time
zone, applied to `notified_at`), mitras, and the sort column. Shared by the page, the
CSV and the JSON API, so all three read the same rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from common.days import day_start
from common.integers import AsciiIntegerField, parse_int
from common.messages import EARLY_END_REASONS, STAFF_REASON_LABELS
from pairing.lifecycle import ACCEPTED_SESSION_STATUSES, OfferResponse, SessionStatus
from pairing.models import ChatRequest, Offer, Role, SessionClosure, User

from . import selectors

DEFAULT_RANGE_DAYS = 30
# A range is at most a year long and lies within these days: any date the calendar allows
# used to reach `date + 1 day` (9999-12-31 overflowed) and a 8,000-year range cost seconds.
MAX_RANGE_DAYS = 366
EARLIEST_DAY = date(2020, 1, 1)
MAX_MITRAS = 1000  # chosen at once in the filter
SORT_COLUMNS = [
    "display_name",
    "notified",
    "accepted",
    "rejected",
    "ignored",
    "missed",
    "cancelled",
    "pending",
    "acceptance_rate",
    "delivery_rate",
    "response_rate",
    "delivered_acceptance_rate",
    "avg_response_seconds",
    "avg_active_session_count",
    "early_end_rate",
]
SORT_CHOICES = [(c, c) for c in SORT_COLUMNS] + [(f"-{c}", f"-{c}") for c in SORT_COLUMNS]


class MitraChoices(forms.models.ModelChoiceIterator):
    """(id, name) pairs read as tuples: 500 model instances per page view cost more than the query."""

    def __iter__(self):
        for user_id, display_name, username in self.queryset.values_list("id", "display_name", "username"):
            yield user_id, display_name or username

    def __len__(self) -> int:
        return self.queryset.count()


class MitraChoiceField(forms.ModelMultipleChoiceField):
    iterator = MitraChoices

    def label_from_instance(self, user: User) -> str:
        return user.name

    def clean(self, value):
        """Ids are checked as ids before the database sees them: 10**30 is not an id
        (SQLite cannot even bind it), it is a form error."""
        for pk in value if isinstance(value, list | tuple) else ():
            if parse_int(str(pk), min_value=1) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super().clean(value)


class FastSelectMultiple(forms.SelectMultiple):
    """A multiple select whose options are built in Python: Django renders one template
    per option, a cost per mitra on every page."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in (value or [])}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (choice_value, mark_safe(" selected") if str(choice_value) in chosen else "", label)
                for choice_value, label in self.choices
            ),
        )
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select multiple{}>{}</select>", flatatt(final_attrs), options)


class MitraFilter(django_filters.ModelMultipleChoiceFilter):
    """Mitras by user_id, listed by display name; an unknown id is a form error."""

    field_class = MitraChoiceField

    def __init__(self, field_name: str, **kwargs):
        super().__init__(
            field_name=field_name,
            queryset=User.objects.filter(role=Role.MITRA).order_by("display_name", "username"),
            label="Mitra",
            widget=FastSelectMultiple(attrs={"size": 6}),
            **kwargs,
        )


class RangeFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        latest = timezone.localdate() + timedelta(days=MAX_RANGE_DAYS)
        for name in ("date_from", "date_to"):
            day = data.get(name)
            if day is not None and not EARLIEST_DAY <= day <= latest:
                self.add_error(name, f"Choose a day between {EARLIEST_DAY} and {latest}.")
                data.pop(name, None)
        if "date_from" in self.errors or "date_to" in self.errors:
            return data
        date_from, date_to = range_of(data.get("date_from"), data.get("date_to"))
        if date_from > date_to:
            self.add_error("date_to", "The end date is before the start date.")
        elif (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
            self.add_error("date_from", f"Choose at most {MAX_RANGE_DAYS} days at a time.")
        mitras = data.get("mitra")
        if mitras is not None and len(mitras) > MAX_MITRAS:
            self.add_error("mitra", f"Choose at most {MAX_MITRAS} mitras at a time.")
        return data


QUICK_RANGES = [("Today", 1), ("7 days", 7), ("30 days", 30)]
DAY_INPUT = {"placeholder": "YYYY-MM-DD", "pattern": r"\d{4}-\d{2}-\d{2}", "inputmode": "numeric", "size": 10,
             "autocomplete": "off", "title": "A day as YYYY-MM-DD"}  # fmt: skip


def with_range_shown(params: QueryDict) -> QueryDict:
    """The page's parameters with the default days written in, so the date inputs show
    the range in force instead of staying empty."""
    params = params.copy()
    given = {}
    for name in ("date_from", "date_to"):
        try:
            given[name] = date.fromisoformat(params[name]) if params.get(name) else None
        except ValueError:
            return params  # the form says what is wrong with it
    date_from, date_to = range_of(given["date_from"], given["date_to"])
    if given["date_from"] is None:  # "To" alone: the 30 days up to it, written in
        params["date_from"] = max(date_from, EARLIEST_DAY).isoformat()
    if given["date_to"] is None:
        params["date_to"] = date_to.isoformat()
    return params


def quick_ranges(params: QueryDict) -> list[tuple[str, str, bool]]:
    """(label, query string, chosen) for today, the last 7 and the last 30 days, keeping
    the other filters."""
    today = timezone.localdate()
    links = []
    for label, days in QUICK_RANGES:
        query = params.copy()
        query["date_from"] = (today - timedelta(days=days - 1)).isoformat()
        query["date_to"] = today.isoformat()
        query.pop("page", None)
        chosen = params.get("date_from") == query["date_from"] and params.get("date_to") == query["date_to"]
        links.append((label, query.urlencode(), chosen))
    return links


def range_of(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The days in force: the chosen ones, the missing end defaulting to today and the
    missing start to 30 days before the end."""
    date_to = date_to or timezone.localdate()
    return date_from or date_to - timedelta(days=DEFAULT_RANGE_DAYS - 1), date_to


class RangeFilter(django_filters.FilterSet):
    """Date range and mitras; subclasses name the time column the range applies to."""

    time_field = "notified_at"
    # Text inputs in the page's own YYYY-MM-DD, not the browser's locale date picker,
    # whose mm/dd/yyyy sat beside dates written otherwise.
    date_from = django_filters.DateFilter(
        method="filter_nothing", label="From", widget=forms.DateInput(attrs=DAY_INPUT, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )  # fmt: skip
    date_to = django_filters.DateFilter(
        method="filter_nothing", label="To", widget=forms.DateInput(attrs=DAY_INPUT, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )  # fmt: skip
    mitra = MitraFilter("mitra")

    class Meta:
        model = Offer
        fields: list[str] = []
        form = RangeFilterForm

    @staticmethod
    def filter_nothing(queryset, name, value):
        return queryset  # applied by `date_range` / the table's sort, not to the rows

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        start, end = self.date_range()
        return queryset.filter(**{f"{self.time_field}__gte": start, f"{self.time_field}__lt": end})

    # -- what the views need --------------------------------------------------

    def dates(self) -> tuple[date, date]:
        """The chosen days, inclusive; by default the last 30 days up to today."""
        data = self.form.cleaned_data
        return range_of(data.get("date_from"), data.get("date_to"))

    def date_range(self) -> tuple[datetime, datetime]:
        """[start, end) in time, for `notified_at`."""
        date_from, date_to = self.dates()
        return day_start(date_from), day_start(date_to + timedelta(days=1))

    def mitra_ids(self) -> list[int] | None:
        chosen = self.form.cleaned_data.get("mitra")
        return [u.id for u in chosen] if chosen else None

    def errors(self) -> dict[str, list[str]]:
        return {field: [str(e) for e in errors] for field, errors in self.form.errors.items()}


class ActivityFilter(RangeFilter):
    """Mitra Request Activity: the log rows notified in the range, and the sort column."""

    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_nothing", empty_label="(default)", label="Sort"
    )

    def sort_column(self) -> str:
        return self.form.cleaned_data.get("sort") or "-notified"


class ClosureFilter(RangeFilter):
    """Force-closes by mitras in the range, by reason, optionally only those flagged."""

    time_field = "created_at"
    mitra = MitraFilter("initiator")
    reason = django_filters.ChoiceFilter(
        choices=[(code, STAFF_REASON_LABELS[code]) for code in EARLY_END_REASONS], field_name="reason_code",
        empty_label="(any reason)", label="Reason",
    )  # fmt: skip
    flagged = django_filters.BooleanFilter(
        field_name="needs_review", label="Flagged for review only",
        widget=forms.CheckboxInput, method="filter_flagged",
    )  # fmt: skip

    class Meta:
        model = SessionClosure
        fields: list[str] = []
        form = RangeFilterForm

    @staticmethod
    def filter_flagged(queryset, name, value):
        return queryset.filter(needs_review=True) if value else queryset

    def filter_queryset(self, queryset):
        return selectors.early_ends(super().filter_queryset(queryset))


PENDING = "pending"
RESPONSE_CHOICES = [(r.value, r.label) for r in OfferResponse] + [(PENDING, "Pending (no answer yet)")]
YES_NO = [("yes", "yes"), ("no", "no")]


class HourFilter(django_filters.Filter):
    """An hour of the day, 0..23, in ASCII digits (any other digit, or `hour=1e1`, is a form error)."""

    field_class = AsciiIntegerField


class HourOfDay(django_filters.FilterSet):
    """`hour=0..23`: rows whose time falls in that hour of the day (control center's time zone)."""

    hour = HourFilter(method="filter_hour", min_value=0, max_value=23, label="Hour of the day")

    def filter_hour(self, queryset, name, value):
        return queryset.filter(**{f"{self.time_field}__hour": value}) if value is not None else queryset


class LogFilter(RangeFilter, HourOfDay):
    """The log rows behind a dashboard number: by response (repeatable; `pending` is no
    response yet), whether the offer was delivered, seen or answered."""

    response = django_filters.MultipleChoiceFilter(
        choices=RESPONSE_CHOICES, method="filter_response", widget=forms.CheckboxSelectMultiple, label="Response"
    )
    delivered = django_filters.ChoiceFilter(choices=YES_NO, method="filter_set", empty_label="(any)", label="Delivered")
    seen = django_filters.ChoiceFilter(choices=YES_NO, method="filter_set", empty_label="(any)", label="Seen")

    @staticmethod
    def filter_response(queryset, name, values):
        if not values:
            return queryset
        chosen = Q(response__in=[v for v in values if v != PENDING])
        if PENDING in values:
            chosen |= Q(response__isnull=True)
        return queryset.filter(chosen)

    @staticmethod
    def filter_set(queryset, name, value):
        column = {"delivered": "delivered_at", "seen": "seen_at"}[name]
        return queryset.filter(**{f"{column}__isnull": value == "no"}) if value else queryset

    def filter_queryset(self, queryset):
        rows = super().filter_queryset(queryset)
        return rows.select_related("mitra", "session", "session__customer").order_by("-notified_at", "-id")


REQUEST_OUTCOMES = {
    "accepted": Q(status__in=ACCEPTED_SESSION_STATUSES),
    "cancelled": Q(status=SessionStatus.CANCELLED),
    "expired": Q(status=SessionStatus.EXPIRED),
    "pending": Q(status=SessionStatus.PENDING),
}


class RequestFilter(RangeFilter, HourOfDay):
    """Requests made in the range (broadcast health's rows), by outcome and accepting mitra."""

    outcome = django_filters.ChoiceFilter(
        choices=[(name, name) for name in REQUEST_OUTCOMES],
        method="filter_outcome",
        empty_label="(any)",
        label="Outcome",
    )
    day_of = django_filters.ChoiceFilter(
        choices=[("requested", "the request"), ("accepted", "the accept")], method="filter_nothing",
        empty_label=None, label="Dates are of",
    )  # fmt: skip
    customer = django_filters.NumberFilter(field_name="customer_id", label="Customer user_id", min_value=1,
                                           max_value=2**63 - 1)  # fmt: skip

    class Meta:
        model = ChatRequest
        fields: list[str] = []
        form = RangeFilterForm

    @property
    def time_field(self) -> str:  # type: ignore[override]
        chosen = self.form.cleaned_data.get("day_of") if hasattr(self.form, "cleaned_data") else None
        return "accepted_at" if chosen == "accepted" else "requested_at"

    @staticmethod
    def filter_outcome(queryset, name, value):
        return queryset.filter(REQUEST_OUTCOMES[value]) if value else queryset

    def filter_queryset(self, queryset):
        rows = super().filter_queryset(queryset)
        return rows.select_related("customer", "mitra").order_by("-requested_at", "-id")
