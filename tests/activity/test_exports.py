"""Every list's CSV reads like its page: the page's headers in its order, times in the
control center's time zone with their offset and no microseconds, rates as percentages;
the JSON API keeps its machine fields."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from pairing.models import ChatRequest, Offer, SessionClosure
from tests.support import at, make_account

from .test_control_center import read_csv

LOCAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")  # Asia/Jakarta, whole seconds


@pytest.fixture
def just_after_midnight(db, staff, client):
    """A request at 00:30:15.123456 on 5 Dec in Jakarta (4 Dec in UTC), offered, accepted and force-closed."""
    client.force_login(staff.user)
    mitra, customer = make_account("mitra", "ayu"), make_account("customer", "sari")
    requested = at("2026-12-05 00:30:15.123456")
    request = ChatRequest.objects.create(
        customer=customer.user, mitra=mitra.user, status="closed", duration_minutes=30, requested_at=requested,
        expires_at=requested + timedelta(seconds=60), accepted_at=requested + timedelta(seconds=3.25),
    )  # fmt: skip
    Offer.objects.create(
        session=request, mitra=mitra.user, notified_at=requested, active_session_count=0, response="accepted",
        responded_at=requested + timedelta(seconds=3.25), response_time_seconds=3.25,
        delivered_at=requested + timedelta(seconds=0.4), delivered_via="websocket",
    )  # fmt: skip
    SessionClosure.objects.create(
        session=request, initiated_by="mitra", initiator=mitra.user, reason_code="customer_left", needs_review=True,
        created_at=requested + timedelta(minutes=10),
    )  # fmt: skip
    return client, request


DAY = "date_from=2026-12-05&date_to=2026-12-05"


def test_every_list_has_a_csv_like_its_page(just_after_midnight):
    client, request = just_after_midnight
    log = read_csv(client.get(f"/control-center/log/?{DAY}&format=csv"))
    assert list(log[0]) == ["Notified", "Mitra", "Response", "Response time (s)", "Active sessions", "Delivered",
                            "Delivered via", "Seen", "Customer", "Minutes", "Request"]  # fmt: skip
    assert log[0]["Notified"] == "2026-12-05T00:30:15+07:00"  # the page's day, no microseconds
    assert LOCAL.match(log[0]["Delivered"]) and log[0]["Response time (s)"] == "3.2"  # rounded as the page: 3.2 s
    assert log[0]["Request"] == str(request.id) and log[0]["Seen"] == ""

    requests = read_csv(client.get(f"/control-center/requests/?{DAY}&format=csv"))
    assert list(requests[0]) == ["Requested", "Request", "Customer", "Minutes", "Status", "Mitra", "To accept (s)"]
    assert requests[0]["Requested"] == "2026-12-05T00:30:15+07:00" and requests[0]["Mitra"] == "Display ayu"

    closures = read_csv(client.get(f"/control-center/force-closes/?{DAY}&format=csv"))
    assert list(closures[0]) == ["When", "Mitra", "Reason", "Note", "Customer", "Served (min)", "Booked (min)",
                                 "Request", "Over daily cap", "Review"]  # fmt: skip
    assert closures[0]["When"] == "2026-12-05T00:40:15+07:00" and closures[0]["Over daily cap"] == "yes"
    assert closures[0]["Reason"] == "Customer left"  # the page's words, not the code

    hours = read_csv(client.get(f"/control-center/hours/?{DAY}&format=csv"))
    assert list(hours[0]) == ["Hour", "Requests", "Accepted", "Expired", "Cancelled", "Acceptance", "Offers",
                              "Delivered", "Response rate"]  # fmt: skip
    assert len(hours) == 25 and hours[-1]["Hour"] == "All hours"
    assert hours[0]["Requests"] == "1" and hours[0]["Acceptance"] == "100.0%" and hours[0]["Response rate"] == "100.0%"

    activity = read_csv(client.get(f"/control-center/mitra-activity/?{DAY}&format=csv"))
    ayu = next(row for row in activity if row["Mitra"] == "Display ayu")
    assert ayu["Acceptance"] == "100.0%" and ayu["Delivered"] == "100.0%" and ayu["Early ends"] == "100.0%"


def test_the_json_api_keeps_machine_fields(just_after_midnight, staff):
    body = staff.get(f"/api/control-center/mitra-activity/?{DAY}").json()
    ayu = next(row for row in body["results"] if row["display_name"] == "Display ayu")
    assert ayu["acceptance_rate"] == 1.0 and ayu["avg_response_seconds"] == 3.25 and "mitra_id" in ayu


def test_a_download_with_a_wrong_filter_is_refused_not_silently_widened(just_after_midnight):
    client, _ = just_after_midnight
    for path in ("log", "requests", "force-closes", "hours", "mitra-activity"):
        refused = client.get(f"/control-center/{path}/?date_from=2026-12-06&date_to=2026-12-05&format=csv")
        assert refused.status_code == 400 and "before the start date" in refused.content.decode(), path
