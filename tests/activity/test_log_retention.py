"""The activity log's retention: a day past ACTIVITY_LOG_RETENTION_DAYS loses its rows once
it is rolled up, and the control center's figures for it stay what they were (they come
from the rollups, kept forever)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from activity.models import RolledUpDay
from activity.services import prune_log, roll_up_final_days
from activity.tasks import prune_log as prune_log_task
from common.days import day_start
from pairing.lifecycle import OfferResponse as R
from pairing.lifecycle import SessionStatus
from pairing.models import ChatRequest, Device, Offer, PushAttempt

API = "/api/control-center/mitra-activity/"
RETENTION = 400


@pytest.fixture
def retention(settings):
    settings.ACTIVITY_LOG_RETENTION_DAYS = RETENTION


def a_day_of_requests(day: date, customer, mitras, responses: list[list[str]]) -> list[ChatRequest]:
    """One request a list of responses, each offered to the first mitras at noon of `day`."""
    made = []
    for index, answers in enumerate(responses):
        at = day_start(day) + timedelta(hours=12, minutes=index)
        accepted = next((m for m, r in zip(mitras, answers, strict=False) if r == R.ACCEPTED), None)
        request = ChatRequest.objects.create(
            id=uuid.uuid4(), customer=customer.user, duration_minutes=30, requested_at=at,
            expires_at=at + timedelta(seconds=60), status=SessionStatus.CLOSED if accepted else SessionStatus.EXPIRED,
            mitra=accepted.user if accepted else None, accepted_at=at + timedelta(seconds=5) if accepted else None,
        )  # fmt: skip
        for mitra, response in zip(mitras, answers, strict=False):
            answered = response in (R.ACCEPTED, R.REJECTED)
            Offer.objects.create(
                session=request, mitra=mitra.user, notified_at=at, active_session_count=index % 2,
                response=response, resolved_at=at + timedelta(seconds=5), delivered_at=at + timedelta(seconds=1),
                delivered_via="websocket", responded_at=at + timedelta(seconds=5) if answered else None,
                response_time_seconds=5.0 if answered else None,
            )  # fmt: skip
        made.append(request)
    return made


def figures(staff, day: date) -> dict:
    answer = staff.get(f"{API}?date_from={day}&date_to={day}")
    assert answer.status_code == 200
    body = answer.json()
    return {
        "totals": body["totals"],
        "rows": sorted((r["mitra_id"], r["notified"], r["accepted"]) for r in body["results"]),
    }


def test_a_day_past_retention_keeps_its_figures_without_its_rows(retention, staff, client, customer, make_mitra):
    mitras = [make_mitra(), make_mitra(), make_mitra()]
    today = timezone.localdate()
    old, kept = today - timedelta(days=RETENTION + 30), today - timedelta(days=RETENTION - 1)
    old_requests = a_day_of_requests(old, customer, mitras, [
        [R.ACCEPTED, R.REJECTED, R.MISSED], [R.IGNORED, R.IGNORED, R.IGNORED], [R.REJECTED, R.ACCEPTED, R.MISSED],
    ])  # fmt: skip
    a_day_of_requests(kept, customer, mitras, [[R.ACCEPTED, R.IGNORED, R.MISSED]])
    device = Device.objects.create(user=mitras[0].user, token="old-phone", platform="android")
    old_push = PushAttempt.objects.create(device=device, user=mitras[0].user, session=old_requests[0],
                                          kind="new_request", status="sent")  # fmt: skip
    PushAttempt.objects.filter(pk=old_push.pk).update(created_at=day_start(old) + timedelta(hours=12))
    recent_push = PushAttempt.objects.create(device=device, user=mitras[0].user, session=old_requests[1],
                                             kind="new_request", status="sent")  # fmt: skip
    roll_up_final_days()
    client.force_login(staff.user)
    before = figures(staff, old), figures(staff, kept)
    day_page = client.get(f"/control-center/mitra-activity/{mitras[0].id}/?date_from={old}&date_to={old}")
    assert before[0]["totals"]["notified"] == 9 and before[0]["totals"]["accepted"] == 2

    assert prune_log_task() == 9
    assert not Offer.objects.filter(notified_at__lt=day_start(old + timedelta(days=1))).exists()
    assert Offer.objects.count() == 3  # the day within retention keeps its rows
    assert list(PushAttempt.objects.values_list("pk", flat=True)) == [recent_push.pk]
    assert (figures(staff, old), figures(staff, kept)) == before  # the dashboard's figures, unchanged

    # A mitra's page for that day still counts its responses per day, and says why no row is listed.
    page = client.get(f"/control-center/mitra-activity/{mitras[0].id}/?date_from={old}&date_to={old}")
    assert page.status_code == 200
    assert _chart(page) == _chart(day_page)
    assert b"past its retention" in page.content
    # The request still opens: its status and timeline, and why its offers are not listed.
    request_page = client.get(f"/control-center/requests/{old_requests[0].id}/")
    assert request_page.status_code == 200
    assert b"past the activity log's retention" in request_page.content
    assert client.get(f"/control-center/requests/{old_requests[0].id}/?format=json").status_code == 200
    assert prune_log() == {"offers": 0, "push_attempts": 0}  # nothing more to do


def _chart(page) -> bytes:
    """The responses-per-day chart of a mitra's page."""
    content = page.content
    start = content.index(b'aria-label="Responses per day"')
    return content[start : content.index(b"</svg>", start)]


def test_a_day_not_rolled_up_keeps_its_rows_and_0_keeps_everything(retention, settings, customer, make_mitra):
    mitras = [make_mitra()]
    old = timezone.localdate() - timedelta(days=RETENTION + 5)
    a_day_of_requests(old, customer, mitras, [[R.ACCEPTED]])
    roll_up_final_days()
    rolled_later = old - timedelta(days=1)
    a_day_of_requests(rolled_later, customer, mitras, [[R.IGNORED]])  # a day the rollups have not reached
    settings.ACTIVITY_LOG_RETENTION_DAYS = 0
    assert prune_log() == {"offers": 0, "push_attempts": 0}
    settings.ACTIVITY_LOG_RETENTION_DAYS = RETENTION
    assert prune_log()["offers"] == 1
    assert list(Offer.objects.values_list("response", flat=True)) == [R.IGNORED]
    assert not RolledUpDay.objects.filter(day=rolled_later).exists()
