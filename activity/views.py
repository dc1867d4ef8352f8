"""The control center: server-rendered pages for staff, plus the activity JSON API."""

from __future__ import annotations

import csv

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import user_passes_test
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError as FormError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import spreadsheet
from pairing.accounts.auth import IsStaff
from pairing.models import ChatRequestNotification, Role, SessionClosure, User

from . import charts, selectors
from .filters import SORT_CHOICES, ActivityFilter, ClosureFilter, quick_ranges, with_range_shown
from .serializers import ActivityResultSerializer
from .templatetags.activity import rate, seconds

CSV_COLUMNS = [
    "mitra_id", "display_name", "notified", "accepted", "rejected", "ignored", "missed", "cancelled",
    "acceptance_rate", "avg_response_seconds", "avg_active_session_count", "early_ends", "accepted_sessions",
    "early_end_rate", "delivered", "seen", "delivery_rate", "delivered_acceptance_rate",
]  # fmt: skip
LOG_PAGE_SIZE = 50

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


def index(request: HttpRequest) -> HttpResponse:
    return redirect("control-center:mitra-activity")


def _activity(params) -> tuple[ActivityFilter, selectors.ActivityTable | None]:
    filterset = ActivityFilter(params, queryset=ChatRequestNotification.objects.all())
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
        suffix = f"?{detail_query.urlencode()}" if detail_query else ""
        context["rows"] = [display_row(row, suffix) for row in table.rows]
        context["totals"] = display_row(table.totals, "")
        context["sort"] = filterset.sort_column()
        context["health"] = selectors.broadcast_health(*filterset.date_range())
        context["dates"] = filterset.dates()
    return render(request, "control_center/mitra_activity.html", context, status=200 if table else 400)


def display_row(row: selectors.ActivityRow, detail_suffix: str) -> dict:
    """A table row's cells, formatted once here: 500 rows of template tags were the
    slowest part of the page."""
    return {
        "name": row.display_name,
        "href": f"{reverse('control-center:mitra-detail', args=[row.mitra_id])}{detail_suffix}" if row.mitra_id else "",
        "notified": row.notified,
        "accepted": row.accepted,
        "rejected": row.rejected,
        "ignored": row.ignored,
        "missed": row.missed,
        "cancelled": row.cancelled,
        "acceptance": rate(row.accepted, row.rate_base),
        "delivery": rate(row.delivered, row.notified),
        "delivered_acceptance": rate(row.delivered_accepted, row.delivered_rate_base),
        "avg_response": seconds(row.avg_response_seconds),
        "answered": f"n={row.answered}" if row.answered else "",
        "avg_active": "—" if row.avg_active_session_count is None else f"{row.avg_active_session_count:.2f}",
        "early_ends": rate(row.early_ends, row.accepted_sessions),
    }


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
    filterset = ActivityFilter(params, queryset=ChatRequestNotification.objects.all())
    context = {"filter": filterset, "mitra": mitra, "active": "activity", "quick_ranges": quick_ranges(shown)}
    if not filterset.is_valid():
        return render(request, "control_center/mitra_detail.html", context, status=400)
    rows = filterset.qs
    date_from, date_to = filterset.dates()
    if request.GET.get("format") == "rows":
        return _log_csv(rows, mitra.username, (date_from, date_to))
    days = selectors.daily_counts(rows, selectors.days_between(date_from, date_to))
    page = Paginator(selectors.mitra_log(mitra, rows), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        {
            "row": selectors.mitra_activity(date_from, date_to, [mitra.id]).rows[0],
            "chart": charts.daily_stacked_bars(days),
            "buckets": selectors.acceptance_by_load(rows),
            "page": page,
            "dates": (date_from, date_to),
        }
    )
    return render(request, "control_center/mitra_detail.html", context)


@staff_required
def force_closes(request: HttpRequest) -> HttpResponse:
    params = with_range_shown(request.GET)
    filterset = ClosureFilter(params, queryset=SessionClosure.objects.all())
    context = {"filter": filterset, "active": "closures", "valid": False, "quick_ranges": quick_ranges(params)}
    if not filterset.is_valid():
        return render(request, "control_center/force_closes.html", context, status=400)
    context["page"] = Paginator(filterset.qs, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(valid=True, dates=filterset.dates())
    return render(request, "control_center/force_closes.html", context)


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
        blank = [name for name in ("date_from", "date_to") if request.query_params.get(name, None) == ""]
        if blank:  # the page's form sends empty dates; a client omits them instead
            raise ValidationError({name: ["Enter a date (YYYY-MM-DD) or leave the parameter out."] for name in blank})
        filterset, table = _activity(request.query_params)
        if table is None:
            raise ValidationError(filterset.errors())
        return Response({"results": [row.as_dict() for row in table.rows], "totals": _totals(table.totals)})


def _totals(totals: selectors.ActivityRow) -> dict:
    values = totals.as_dict()
    del values["mitra_id"], values["display_name"]
    return values
