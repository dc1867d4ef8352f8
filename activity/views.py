"""The control center: server-rendered pages for staff, plus the activity JSON API."""

from __future__ import annotations

import csv
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import user_passes_test
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError as FormError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import spreadsheet
from common.errors import DomainError
from common.integers import parse_int
from common.messages import ERROR_MESSAGES
from pairing.accounts.auth import IsStaff
from pairing.models import ChatRequest, Offer, Role, SessionClosure, User
from pairing.sessions import services as session_services

from . import charts, selectors
from . import live as live_state
from .filters import (
    SORT_CHOICES,
    ActivityFilter,
    ClosureFilter,
    LogFilter,
    RangeFilter,
    RequestFilter,
    quick_ranges,
    with_range_shown,
)  # fmt: skip
from .serializers import ActivityResultSerializer
from .templatetags.activity import COUNTS

CSV_COLUMNS = [
    "mitra_id", "display_name", "notified", "accepted", "rejected", "ignored", "missed", "cancelled", "pending",
    "acceptance_rate", "avg_response_seconds", "avg_active_session_count", "early_ends", "accepted_sessions",
    "early_end_rate", "delivered", "seen", "delivery_rate", "delivered_answered", "response_rate",
    "delivered_acceptance_rate",
]  # fmt: skip
LOG_PAGE_SIZE = 50
CLOSURES_SHOWN = 20  # on a mitra's page; the force-closes page has them all

staff_required = user_passes_test(lambda u: u.is_active and u.is_staff)


class StaffAuthenticationForm(AuthenticationForm):
    """Only staff sign in here: a mitra or customer gets the form's error and no session."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise FormError(f"{user.username} is not a staff account. Sign in with a staff account.", code="not_staff")


class LoginView(auth_views.LoginView):
    template_name = "control_center/login.html"
    redirect_authenticated_user = False
    authentication_form = StaffAuthenticationForm


def page_number(request: HttpRequest) -> int:
    """The `page` asked for; anything but ASCII digits is the first page, as Django's
    paginator treats any other word (a number past the end is the last page)."""
    return parse_int(request.GET.get("page"), min_value=1) or 1


def index(request: HttpRequest) -> HttpResponse:
    return redirect("control-center:mitra-activity")


def _activity(params) -> tuple[ActivityFilter, selectors.ActivityTable | None]:
    filterset = ActivityFilter(params, queryset=Offer.objects.all())
    if not filterset.is_valid():
        return filterset, None
    table = selectors.mitra_activity(*filterset.dates(), filterset.mitra_ids(), filterset.sort_column())
    return filterset, table


@staff_required
def mitra_activity(request: HttpRequest) -> HttpResponse:
    params = with_range_shown(request.GET)
    filterset, table = _activity(params)
    if request.GET.get("format") == "csv":
        return _csv(filterset, table)
    if request.GET.get("format") == "rows" and table is not None:
        return _log_csv(filterset.qs, "all-mitras", filterset.dates())
    context = {"filter": filterset, "table": table, "active": "activity", "sort": None, "health": None,
               "quick_ranges": quick_ranges(params)}  # fmt: skip
    if table is not None:
        detail_query = request.GET.copy()
        for key in ("mitra", "sort", "page", "format"):
            detail_query.pop(key, None)
        context["detail_suffix"] = f"?{detail_query.urlencode()}" if detail_query else ""
        context["sort"] = filterset.sort_column()
        context["health"] = selectors.broadcast_health(*filterset.date_range())
        context["dates"] = filterset.dates()
        context["mitra_ids"] = filterset.mitra_ids()
    return render(request, "control_center/mitra_activity.html", context, status=200 if table else 400)


def _csv(filterset: ActivityFilter, table: selectors.ActivityTable | None) -> HttpResponse:
    if table is None:
        lines = [f"{field}: {' '.join(errors)}" for field, errors in filterset.errors().items()]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    date_from, date_to = filterset.dates()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mitra-activity-{date_from}-to-{date_to}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in [*table.rows, table.totals]:
        values = row.as_dict()
        writer.writerow(spreadsheet.row([values[column] for column in CSV_COLUMNS]))
    return response


LOG_CSV_COLUMNS = [
    "session_id", "mitra_id", "mitra", "customer_id", "duration_minutes", "notified_at", "response", "responded_at",
    "response_time_seconds", "active_session_count", "delivered_at", "delivered_via", "seen_at",
]  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def _log_csv(rows, name: str, dates: tuple) -> StreamingHttpResponse:
    """The log rows behind the figures, one line each, streamed (a year of rows is large)."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(LOG_CSV_COLUMNS)
        for n in rows.select_related("mitra", "session").order_by("notified_at", "id").iterator(chunk_size=2000):
            yield writer.writerow(spreadsheet.row([
                n.session_id, n.mitra_id, n.mitra.name, n.session.customer_id, n.session.duration_minutes,
                n.notified_at.isoformat(), n.response, n.responded_at and n.responded_at.isoformat(),
                n.response_time_seconds, n.active_session_count, n.delivered_at and n.delivered_at.isoformat(),
                n.delivered_via or None, n.seen_at and n.seen_at.isoformat(),
            ]))  # fmt: skip

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-log-{dates[0]}-to-{dates[1]}.csv"'
    return response


@staff_required
def mitra_detail(request: HttpRequest, mitra_id: int) -> HttpResponse:
    mitra = get_object_or_404(User, id=mitra_id, role=Role.MITRA)
    shown = with_range_shown(request.GET)
    params = shown.copy()
    params.setlist("mitra", [str(mitra.id)])
    filterset = ActivityFilter(params, queryset=Offer.objects.all())
    context = {"filter": filterset, "mitra": mitra, "active": "activity", "quick_ranges": quick_ranges(shown)}
    if not filterset.is_valid():
        return render(request, "control_center/mitra_detail.html", context, status=400)
    rows = filterset.qs
    date_from, date_to = filterset.dates()
    if request.GET.get("format") == "rows":
        return _log_csv(rows, mitra.username, (date_from, date_to))
    days = selectors.daily_counts(rows, selectors.days_between(date_from, date_to))
    page = Paginator(selectors.mitra_log(mitra, rows), LOG_PAGE_SIZE).get_page(page_number(request))
    row = selectors.mitra_activity(date_from, date_to, [mitra.id]).rows[0]
    context.update(
        {
            "row": row,
            "ids": [mitra.id],
            "counts": [(name, getattr(row, name)) for name in COUNTS],
            "closures": selectors.closures_of(mitra, *filterset.date_range())[:CLOSURES_SHOWN],
            "chart": charts.daily_stacked_bars(days),
            "buckets": selectors.acceptance_by_load(rows),
            "page": page,
            "dates": (date_from, date_to),
        }
    )
    return render(request, "control_center/mitra_detail.html", context)


@staff_required
def live(request: HttpRequest) -> HttpResponse:
    """Requests waiting now and every mitra's state, kept current by the staff socket."""
    return render(request, "control_center/live.html", {"active": "live", "snapshot": live_state.snapshot()})


def _rows_behind(request: HttpRequest, filter_class, queryset, active: str) -> dict:
    """A page of the rows behind a number (log rows, requests, force-closes), filtered."""
    params = with_range_shown(request.GET)
    filterset = filter_class(params, queryset=queryset)
    context = {"filter": filterset, "active": active, "valid": filterset.is_valid(),
               "quick_ranges": quick_ranges(params)}  # fmt: skip
    if context["valid"]:
        page = Paginator(filterset.qs, LOG_PAGE_SIZE).get_page(page_number(request))
        context.update(dates=filterset.dates(), page=page)
    return context


def _render_rows(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return render(request, template, context, status=200 if context["valid"] else 400)


@staff_required
def log(request: HttpRequest) -> HttpResponse:
    """The log rows behind any number of the dashboard."""
    context = _rows_behind(request, LogFilter, Offer.objects.all(), "activity")
    if context["valid"] and request.GET.get("format") == "rows":
        return _log_csv(context["filter"].qs, "log", context["dates"])
    return _render_rows(request, "control_center/log.html", context)


@staff_required
def requests(request: HttpRequest) -> HttpResponse:
    """The requests behind broadcast health's numbers."""
    context = _rows_behind(request, RequestFilter, ChatRequest.objects.all(), "activity")
    return _render_rows(request, "control_center/requests.html", context)


@staff_required
def request_detail(request: HttpRequest, session_id: UUID) -> HttpResponse:
    try:
        session = selectors.request_with_offers(session_id)
    except ChatRequest.DoesNotExist:
        raise Http404("No such request.") from None
    context = {"session": session, "timeline": selectors.request_timeline(session), "active": "activity",
               "closure": getattr(session, "closure", None)}  # fmt: skip
    return render(request, "control_center/request.html", context)


@staff_required
def hours(request: HttpRequest) -> HttpResponse:
    """Requests and acceptance by hour of the day, for staffing."""
    params = with_range_shown(request.GET)
    filterset = RangeFilter(params, queryset=Offer.objects.all())
    context = {"filter": filterset, "active": "hours", "quick_ranges": quick_ranges(params)}
    if not filterset.is_valid():
        return render(request, "control_center/hours.html", context, status=400)
    rows = selectors.by_hour(*filterset.date_range(), filterset.mitra_ids())
    context.update(rows=rows, chart=charts.hourly_bars(rows), dates=filterset.dates(), totals=selectors.all_hours(rows),
                   ids=filterset.mitra_ids())  # fmt: skip
    return render(request, "control_center/hours.html", context)


@staff_required
def force_closes(request: HttpRequest) -> HttpResponse:
    context = _rows_behind(request, ClosureFilter, SessionClosure.objects.all(), "closures")
    return _render_rows(request, "control_center/force_closes.html", context)


@staff_required
@require_POST
def review_closure(request: HttpRequest, closure_id: int) -> HttpResponse:
    note = request.POST.get("note", "")[:500]
    try:
        session_services.review_closure(closure_id=closure_id, staff=request.user, note=note)
        messages.success(request, "Marked reviewed.")
    except DomainError as refusal:
        if refusal.status_code == 404:
            raise Http404(ERROR_MESSAGES["not_found"]) from None
        messages.error(request, ERROR_MESSAGES[refusal.code])
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("control-center:force-closes")
    return redirect(target)


BLANK_REFUSED = {
    "date_from": "Enter a date (YYYY-MM-DD) or leave the parameter out.",
    "date_to": "Enter a date (YYYY-MM-DD) or leave the parameter out.",
    "sort": "Choose a column (see the schema's list) or leave the parameter out.",
}


class MitraActivityAPIView(APIView):
    """The Mitra Request Activity table as JSON (staff token)."""

    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="inclusive; default: 29 days before date_to"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="inclusive; default: today"),
            OpenApiParameter("mitra", int, many=True, description="a mitra's user_id; repeatable, up to 1,000"),
            OpenApiParameter(
                "sort", str, enum=[value for value, _ in SORT_CHOICES], description="a column, '-' for descending"
            ),
        ],
        responses={200: ActivityResultSerializer},
    )
    def get(self, request: Request) -> Response:
        blank = [name for name in BLANK_REFUSED if request.query_params.get(name, None) == ""]
        if blank:  # the page's form sends empty values; a client omits them instead (the schema has no "")
            raise ValidationError({name: [BLANK_REFUSED[name]] for name in blank})
        filterset, table = _activity(request.query_params)
        if table is None:
            raise ValidationError(filterset.errors())
        return Response({"results": [row.as_dict() for row in table.rows], "totals": _totals(table.totals)})


def _totals(totals: selectors.ActivityRow) -> dict:
    values = totals.as_dict()
    del values["mitra_id"], values["display_name"]
    return values
