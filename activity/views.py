"""The control center: server-rendered pages for staff, plus the activity JSON API."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import user_passes_test
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError as FormError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
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

from common.errors import DomainError
from common.integers import parse_int
from common.messages import ERROR_MESSAGES
from pairing.accounts.auth import IsStaff
from pairing.models import ChatRequest, Offer, Role, SessionClosure, User
from pairing.sessions import services as session_services

from . import charts, exports, presenters, selectors
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


def _filtered(filter_class, params: QueryDict, queryset):
    """(the filters as asked, the filters the data is shown for). When some are wrong the
    page still shows data: the same filters without the wrong ones (the default range
    when a date is wrong), beside the errors. None when even that fails."""
    asked = filter_class(params, queryset=queryset)
    if asked.is_valid():
        return asked, asked
    kept = params.copy()
    wrong = set(asked.form.errors)
    if wrong & {"date_from", "date_to", "__all__"}:
        wrong |= {"date_from", "date_to"}
    for name in wrong:
        kept.pop(name, None)
    shown = filter_class(with_range_shown(kept), queryset=queryset)
    return asked, (shown if shown.is_valid() else None)


def _context(request: HttpRequest, asked, shown, active: str, params: QueryDict) -> dict:
    context = {"filter": asked, "active": active, "valid": asked is shown, "shown": shown,
               "quick_ranges": quick_ranges(params)}  # fmt: skip
    if shown is not None:
        context["dates"] = shown.dates()
        if selectors.before_retention(context["dates"][0]):
            context["log_kept_from"] = selectors.log_kept_from()
    return context


def _status(context: dict) -> int:
    return 200 if context["valid"] else 400


def _refused(asked) -> HttpResponse:
    lines = [f"{field}: {' '.join(errors)}" for field, errors in asked.errors().items()]
    return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")


def _activity(params) -> tuple[ActivityFilter, selectors.ActivityTable | None]:
    filterset = ActivityFilter(params, queryset=Offer.objects.all())
    if not filterset.is_valid():
        return filterset, None
    table = selectors.mitra_activity(*filterset.dates(), filterset.mitra_ids(), filterset.sort_column())
    return filterset, table


def _span(dates: tuple) -> str:
    return f"{dates[0]}-to-{dates[1]}"


@staff_required
def mitra_activity(request: HttpRequest) -> HttpResponse:
    params = with_range_shown(request.GET)
    asked, shown = _filtered(ActivityFilter, params, Offer.objects.all())
    wants = request.GET.get("format")
    if wants and not context_valid(asked, shown):
        return _refused(asked)
    context = _context(request, asked, shown, "activity", params)
    context.update(table=None, sort=None, health=None)
    if shown is None:
        return render(request, "control_center/mitra_activity.html", context, status=400)
    table = selectors.mitra_activity(*shown.dates(), shown.mitra_ids(), shown.sort_column())
    if wants == "csv":
        return exports.download(exports.ACTIVITY, [*table.rows, table.totals],
                                f"mitra-activity-{_span(shown.dates())}.csv")  # fmt: skip
    if wants == "rows":
        return exports.download(exports.LOG, _log_rows(shown.qs), f"all-mitras-log-{_span(shown.dates())}.csv")
    detail_query = request.GET.copy()
    for key in ("mitra", "sort", "page", "format"):
        detail_query.pop(key, None)
    context.update(
        table=table, sort=shown.sort_column(), health=selectors.broadcast_health(*shown.date_range()),
        mitra_ids=shown.mitra_ids(), detail_suffix=f"?{detail_query.urlencode()}" if detail_query else "",
    )  # fmt: skip
    return render(request, "control_center/mitra_activity.html", context, status=_status(context))


def context_valid(asked, shown) -> bool:
    """A download is only ever of exactly what was asked: no silent fallback in a file."""
    return shown is not None and asked is shown


def _log_rows(rows):
    return rows.select_related("mitra", "session", "session__customer").order_by("notified_at", "id")


@staff_required
def mitra_detail(request: HttpRequest, mitra_id: int) -> HttpResponse:
    mitra = get_object_or_404(User, id=mitra_id, role=Role.MITRA)
    shown_params = with_range_shown(request.GET)
    params = shown_params.copy()
    params.setlist("mitra", [str(mitra.id)])
    asked, shown = _filtered(ActivityFilter, params, Offer.objects.all())
    context = _context(request, asked, shown, "activity", shown_params)
    context["mitra"] = mitra
    if request.GET.get("format") and not context_valid(asked, shown):
        return _refused(asked)
    if shown is None:
        return render(request, "control_center/mitra_detail.html", context, status=400)
    rows = shown.qs
    date_from, date_to = shown.dates()
    if request.GET.get("format") == "rows":
        return exports.download(exports.MITRA_LOG, _log_rows(rows), f"{mitra.username}-log-{_span(shown.dates())}.csv")
    days = selectors.daily_counts(rows, selectors.days_between(date_from, date_to), [mitra.id])
    page = Paginator(selectors.mitra_log(mitra, rows), LOG_PAGE_SIZE).get_page(page_number(request))
    row = selectors.mitra_activity(date_from, date_to, [mitra.id]).rows[0]
    context.update(
        {
            "row": row,
            "ids": [mitra.id],
            "counts": [(name, getattr(row, name)) for name in COUNTS],
            "closures": selectors.closures_of(mitra, *shown.date_range())[:CLOSURES_SHOWN],
            "chart": charts.daily_stacked_bars(days),
            "buckets": selectors.acceptance_by_load(rows),
            "page": page,
        }
    )
    return render(request, "control_center/mitra_detail.html", context, status=_status(context))


@staff_required
def live(request: HttpRequest) -> HttpResponse:
    """Requests waiting now, every mitra's state and the alerts, kept current by the staff socket."""
    return render(request, "control_center/live.html", {"active": "live", "snapshot": live_state.snapshot()})


def _rows_behind(request: HttpRequest, filter_class, queryset, active: str) -> tuple[dict, object]:
    """A page of the rows behind a number (log rows, requests, force-closes), filtered."""
    params = with_range_shown(request.GET)
    asked, shown = _filtered(filter_class, params, queryset)
    context = _context(request, asked, shown, active, params)
    if shown is not None:
        context["page"] = Paginator(shown.qs, LOG_PAGE_SIZE).get_page(page_number(request))
    return context, (shown.qs if context_valid(asked, shown) else None)


def _rows_page(request: HttpRequest, filter_class, queryset, active: str, template: str, columns, name: str):
    context, rows = _rows_behind(request, filter_class, queryset, active)
    if request.GET.get("format") in ("csv", "rows"):
        if rows is None:
            return _refused(context["filter"])
        return exports.download(columns, rows, f"{name}-{_span(context['dates'])}.csv")
    return render(request, template, context, status=_status(context))


@staff_required
def log(request: HttpRequest) -> HttpResponse:
    """The log rows behind any number of the dashboard."""
    return _rows_page(request, LogFilter, Offer.objects.all(), "activity", "control_center/log.html", exports.LOG,
                      "log")  # fmt: skip


@staff_required
def requests(request: HttpRequest) -> HttpResponse:
    """The requests behind broadcast health's numbers."""
    return _rows_page(request, RequestFilter, ChatRequest.objects.all(), "activity", "control_center/requests.html",
                      exports.REQUESTS, "requests")  # fmt: skip


@staff_required
def force_closes(request: HttpRequest) -> HttpResponse:
    return _rows_page(request, ClosureFilter, SessionClosure.objects.all(), "closures",
                      "control_center/force_closes.html", exports.CLOSURES, "force-closes")  # fmt: skip


@staff_required
def request_detail(request: HttpRequest, session_id: UUID) -> HttpResponse:
    try:
        session = selectors.request_with_offers(session_id)
    except ChatRequest.DoesNotExist:
        raise Http404("No such request.") from None
    if request.GET.get("format") == "json":  # what the page's script redraws from on a change
        return JsonResponse(presenters.request_state(session))
    context = {"session": session, "timeline": selectors.request_timeline(session), "active": "activity",
               "closure": getattr(session, "closure", None), "state": presenters.request_state(session),
               "log_past_retention": selectors.offers_past_retention(session)}  # fmt: skip
    return render(request, "control_center/request.html", context)


@staff_required
def request_by_prefix(request: HttpRequest, prefix: str) -> HttpResponse:
    """`/control-center/requests/<first characters>/`: the search for them (one hit opens it)."""
    return redirect(f"{reverse('control-center:search')}?{QueryDict.fromkeys(['q'], prefix).urlencode()}")


@staff_required
def search(request: HttpRequest) -> HttpResponse:
    """The top bar's box: a request id or its first characters, a customer or a mitra."""
    query = request.GET.get("q", "").strip()[:100]
    found = selectors.search(query)
    if len(found) == 1:
        return redirect(found[0].url)
    context = {"active": "", "query": query, "found": found, "limit": selectors.SEARCH_LIMIT}
    return render(request, "control_center/search.html", context)


@staff_required
def hours(request: HttpRequest) -> HttpResponse:
    """Requests and acceptance by hour of the day, for staffing."""
    params = with_range_shown(request.GET)
    asked, shown = _filtered(RangeFilter, params, Offer.objects.all())
    context = _context(request, asked, shown, "hours", params)
    if request.GET.get("format") == "csv" and not context_valid(asked, shown):
        return _refused(asked)
    if shown is None:
        return render(request, "control_center/hours.html", context, status=400)
    rows = selectors.by_hour(*shown.date_range(), shown.mitra_ids())
    totals = selectors.all_hours(rows)
    if request.GET.get("format") == "csv":
        return exports.download(exports.HOURS, [*rows, totals], f"hours-{_span(shown.dates())}.csv")
    context.update(rows=rows, chart=charts.hourly_bars(rows), totals=totals, ids=shown.mitra_ids())
    return render(request, "control_center/hours.html", context, status=_status(context))


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
    return redirect(_back(request))


@staff_required
@require_POST
def review_closures(request: HttpRequest) -> HttpResponse:
    """Several force-closes marked reviewed at once, with one note."""
    note = request.POST.get("note", "")[:500]
    ids = [int(value) for value in request.POST.getlist("closure") if value.isdigit()][:LOG_PAGE_SIZE]
    if not ids:
        messages.error(request, ERROR_MESSAGES["nothing_chosen"])
        return redirect(_back(request))
    reviewed = 0
    for closure_id in ids:
        try:
            session_services.review_closure(closure_id=closure_id, staff=request.user, note=note)
            reviewed += 1
        except DomainError:
            continue  # gone, or reviewed by someone else meanwhile: the page shows which
    messages.success(request, f"Marked {reviewed} reviewed." if reviewed != 1 else "Marked 1 reviewed.")
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("control-center:force-closes")
    return target


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
