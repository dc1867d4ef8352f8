"""The live page's mitra board and alerts, from the state the staff socket sends: today's
figures per mitra, "app not acknowledging", and each alert at and below its threshold
(runtime config)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from activity import live
from pairing.models import ChatRequest, Offer
from tests.support import make_account, set_config


def _request(status="pending", seconds_ago=20, **fields) -> ChatRequest:
    requested = timezone.now() - timedelta(seconds=seconds_ago)
    return ChatRequest.objects.create(
        customer=make_account("customer").user, status=status, duration_minutes=30, requested_at=requested,
        expires_at=requested + timedelta(seconds=60), **fields,
    )  # fmt: skip


def _offer(request, mitra, delivered: bool, response=None, seconds_after=1) -> Offer:
    notified = request.requested_at + timedelta(seconds=seconds_after)
    return Offer.objects.create(
        session=request, mitra=mitra, notified_at=notified, active_session_count=0, response=response,
        delivered_at=notified if delivered else None, delivered_via="websocket" if delivered else None,
        responded_at=notified + timedelta(seconds=2) if response in ("accepted", "rejected") else None,
        response_time_seconds=2.0 if response in ("accepted", "rejected") else None,
    )  # fmt: skip


def _kinds(state) -> list[str]:
    return sorted(alert["kind"] for alert in state["alerts"])


@pytest.mark.django_db
def test_the_board_counts_today_and_marks_an_app_that_never_acknowledges():
    ayu, dewi = make_account("mitra", "ayu").user, make_account("mitra", "dewi").user
    for minutes in (30, 20, 10):  # three offers dewi's app never acknowledged, ayu answered each
        request = _request("expired", seconds_ago=minutes * 60)
        _offer(request, dewi, delivered=False)
        _offer(request, ayu, delivered=True, response="rejected")
    board = {row["name"]: row for row in live.snapshot()["board"]}
    assert (board["Display ayu"]["offered"], board["Display ayu"]["delivered"], board["Display ayu"]["answered"]) == (
        3, 3, 3,
    )  # fmt: skip
    assert board["Display ayu"]["response_rate"] == 1.0 and board["Display ayu"]["last_answer"] is not None
    assert not board["Display ayu"]["not_acknowledging"]
    assert board["Display dewi"]["not_acknowledging"] and board["Display dewi"]["undelivered_in_a_row"] == 3
    assert board["Display dewi"]["response_rate"] is None  # nothing delivered: no rate, not 0%
    assert "not_acknowledging" in _kinds(live.snapshot())
    set_config(alert_undelivered_in_a_row=4)
    state = live.snapshot()
    assert "not_acknowledging" not in _kinds(state)
    assert not {row["name"]: row for row in state["board"]}["Display dewi"]["not_acknowledging"]


@pytest.mark.django_db
def test_an_offer_still_within_its_grace_does_not_count_as_undelivered():
    dewi = make_account("mitra", "dewi").user
    for seconds_ago in (300, 200, 3):  # the newest is only 3 s old: its ack may be on its way
        _offer(_request("expired", seconds_ago=seconds_ago), dewi, delivered=False, seconds_after=0)
    set_config(alert_undelivered_in_a_row=3)
    row = live.snapshot()["board"][0]
    assert row["undelivered_in_a_row"] == 2 and not row["not_acknowledging"]


@pytest.mark.django_db
def test_a_request_that_reached_nobody_alerts_after_the_threshold():
    mitra = make_account("mitra").user
    waiting = _request("pending", seconds_ago=20)
    waiting.expires_at = timezone.now() + timedelta(seconds=40)
    waiting.save()
    _offer(waiting, mitra, delivered=False)
    set_config(alert_undelivered_wait_seconds=15)
    state = live.snapshot()
    assert "undelivered_request" in _kinds(state) and "no_mitra_available" in _kinds(state)
    assert str(waiting.id)[:8] in next(a["text"] for a in state["alerts"] if a["kind"] == "undelivered_request")
    set_config(alert_undelivered_wait_seconds=60)
    assert "undelivered_request" not in _kinds(live.snapshot())
    Offer.objects.filter(session=waiting).update(delivered_at=timezone.now())
    set_config(alert_undelivered_wait_seconds=15)
    assert "undelivered_request" not in _kinds(live.snapshot())  # delivered: someone has it on screen


@pytest.mark.django_db
def test_expiries_in_the_last_15_minutes_alert_at_the_threshold():
    now = timezone.now()
    for minutes in (1, 5, 14, 20):  # the one 20 minutes ago is outside the window
        _request("expired", seconds_ago=minutes * 60 + 60, expired_at=now - timedelta(minutes=minutes))
    set_config(alert_expired_per_15_minutes=3)
    expiries = [a for a in live.snapshot()["alerts"] if a["kind"] == "expiries"]
    assert len(expiries) == 1 and expiries[0]["text"].startswith("3 requests expired")
    assert len(live.snapshot()["expired_recently"]) == 3  # shown on the page, not just gone
    set_config(alert_expired_per_15_minutes=4)
    assert "expiries" not in _kinds(live.snapshot())
