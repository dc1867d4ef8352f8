"""Session lifecycle and mitra force-close (contract sections 5 and 6, issue 4)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from appconfig.models import ConfigChange, RuntimeConfig
from pairing.models import ChatRequest, SessionClosure, User
from pairing.requests.services import (
    accept_chat_request,
    create_chat_request,
)
from pairing.sessions.services import advance_sessions
from tests.support import (
    create_request,
    customer_socket,
    make_account,
    mitra_socket,
    next_frame,
    requires_postgres,
    run_together,
    set_config,
)

SESSIONS = "/api/mitra/chat-requests/sessions/"


def end_path(session_id) -> str:
    return f"{SESSIONS}{session_id}/end/"


def start_session(customer, mitra, minutes: int = 30) -> str:
    session_id = create_request(customer, minutes)
    assert mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200
    return session_id


def shorten(session_id, seconds: float) -> None:
    """As if the session's booked time ran out `seconds` from now."""
    ChatRequest.objects.filter(id=session_id).update(ends_at=timezone.now() + timedelta(seconds=seconds))


@pytest.fixture
def enabled(db):
    set_config(early_end_mitra_enabled=True)


# --- Sesi Aktif ---------------------------------------------------------------


def test_sessions_lists_active_and_closing_oldest_first(make_customer, make_mitra, enabled):
    mitra, other = make_mitra(), make_mitra()
    first = start_session(make_customer(), mitra)
    second = start_session(make_customer(), mitra)
    start_session(make_customer(), other)
    closing = start_session(make_customer(), mitra)
    assert mitra.post(end_path(closing), {"reason_code": "customer_left"}).status_code == 200
    ended = start_session(make_customer(), mitra)
    shorten(ended, -1)
    advance_sessions()
    ChatRequest.objects.filter(id=ended).update(grace_ends_at=timezone.now() - timedelta(seconds=1))
    advance_sessions()  # now closed: no longer listed

    results = mitra.get(SESSIONS).json()["results"]
    assert [r["session_id"] for r in results] == [first, second, closing]
    assert [r["status"] for r in results] == ["active", "active", "closing"]
    assert mitra.get("/api/mitra/me/").json()["active_session_count"] == 3
    # The count recorded at the next fan-out is the same number.
    session_id = create_request(make_customer())
    assert mitra.get("/api/mitra/chat-requests/history/").json()["results"][0]["active_session_count"] == 3
    assert other.get(SESSIONS).json()["results"][0]["session_id"] != session_id


# --- end: success, cap, errors ---------------------------------------------------


def test_end_moves_to_closing_with_grace_and_records_the_closure(make_customer, make_mitra, enabled):
    set_config(closing_grace_seconds=120)
    mitra, customer = make_mitra(), make_customer()
    session_id = start_session(customer, mitra)
    response = mitra.post(end_path(session_id), {"reason_code": "other", "reason_note": "Customer asked to stop"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "closing"
    started = datetime.fromisoformat(body["closing_started_at"])
    assert (datetime.fromisoformat(body["grace_ends_at"]) - started).total_seconds() == 120
    closure = SessionClosure.objects.get(session_id=session_id)
    assert (closure.initiated_by, closure.initiator_id, closure.reason_code) == ("mitra", mitra.id, "other")
    assert closure.reason_note == "Customer asked to stop"
    assert closure.needs_review is False and closure.created_at is not None
    assert customer.get(f"/api/customer/chat-requests/{session_id}/").json()["status"] == "closing"


def test_ends_beyond_the_daily_cap_are_allowed_but_flagged(make_customer, make_mitra, enabled):
    set_config(early_end_mitra_daily_cap=2)
    mitra, other = make_mitra(), make_mitra()
    flags = []
    for _ in range(4):
        session_id = start_session(make_customer(), mitra)
        assert mitra.post(end_path(session_id), {"reason_code": "out_of_scope"}).status_code == 200
        flags.append(SessionClosure.objects.get(session_id=session_id).needs_review)
    assert flags == [False, False, True, True]
    # The cap is per mitra: another mitra's first end that day is not flagged.
    session_id = start_session(make_customer(), other)
    other.post(end_path(session_id), {"reason_code": "customer_left"})
    assert SessionClosure.objects.get(session_id=session_id).needs_review is False


def test_yesterdays_ends_do_not_count_towards_today(make_customer, make_mitra, enabled):
    set_config(early_end_mitra_daily_cap=1)
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    mitra.post(end_path(session_id), {"reason_code": "customer_left"})
    SessionClosure.objects.filter(session_id=session_id).update(created_at=timezone.now() - timedelta(days=1))
    session_id = start_session(make_customer(), mitra)
    mitra.post(end_path(session_id), {"reason_code": "customer_left"})
    assert SessionClosure.objects.get(session_id=session_id).needs_review is False


def test_end_is_403_while_disabled_whatever_the_body(make_customer, make_mitra, config):
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    for body in ({"reason_code": "customer_left"}, {}, {"reason_code": "nope"}):
        response = mitra.post(end_path(session_id), body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "early_end_disabled"
    assert ChatRequest.objects.get(id=session_id).status == "active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason_code"),
        ({"reason_code": "bored"}, "reason_code"),
        ({"reason_code": None}, "reason_code"),
        ({"reason_code": "other"}, "reason_note"),
        ({"reason_code": "other", "reason_note": "   "}, "reason_note"),
        ({"reason_code": "customer_left", "reason_note": "x" * 501}, "reason_note"),
        ({"reason_code": "customer_left", "reason_note": None}, "reason_note"),
    ],
)
def test_end_with_a_bad_reason_is_400(make_customer, make_mitra, enabled, body, field):
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    response = mitra.post(end_path(session_id), body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert ChatRequest.objects.get(id=session_id).status == "active"
    assert not SessionClosure.objects.exists()


def test_a_500_character_note_is_fine(make_customer, make_mitra, enabled):
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    assert mitra.post(end_path(session_id), {"reason_code": "other", "reason_note": "x" * 500}).status_code == 200


def test_end_of_someone_elses_or_unknown_session_is_404(make_customer, make_mitra, enabled):
    mitra, other = make_mitra(), make_mitra()
    session_id = start_session(make_customer(), mitra)
    for path in (end_path(session_id), end_path("8b5f7c2e-0000-4000-8000-000000000000")):
        response = other.post(path, {"reason_code": "customer_left"})
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    pending = create_request(make_customer())
    assert mitra.post(end_path(pending), {"reason_code": "customer_left"}).status_code == 404


def test_end_of_a_closing_or_closed_session_is_409(make_customer, make_mitra, enabled):
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    assert mitra.post(end_path(session_id), {"reason_code": "customer_left"}).status_code == 200
    again = mitra.post(end_path(session_id), {"reason_code": "customer_left"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "session_not_active"
    assert again.json()["error"]["session"]["status"] == "closing"
    ChatRequest.objects.filter(id=session_id).update(grace_ends_at=timezone.now())
    advance_sessions()
    closed = mitra.post(end_path(session_id), {"reason_code": "customer_left"})
    assert closed.status_code == 409 and closed.json()["error"]["session"]["status"] == "closed"
    assert SessionClosure.objects.filter(session_id=session_id).count() == 1


def test_end_after_the_booked_time_is_the_systems_close(make_customer, make_mitra, enabled):
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    shorten(session_id, -1)  # time is up, the sweep has not run yet
    response = mitra.post(end_path(session_id), {"reason_code": "customer_left"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "session_not_active"
    closure = SessionClosure.objects.get(session_id=session_id)
    assert (closure.initiated_by, closure.reason_code, closure.initiator_id) == ("system", "time_up", None)


# --- the flag, through the admin ------------------------------------------------


def test_flag_toggled_in_the_admin_counts_on_the_next_call(make_customer, make_mitra, client, db):
    from django.core.management import call_command

    call_command("create_account", "boss", role="staff", password="pw-123456")
    client.force_login(User.objects.get(username="boss"))
    mitra = make_mitra()
    session_id = start_session(make_customer(), mitra)
    assert mitra.post(end_path(session_id), {"reason_code": "customer_left"}).status_code == 403

    config = RuntimeConfig.load()
    page = client.get(f"/admin/appconfig/runtimeconfig/{config.pk}/change/")
    assert page.status_code == 200
    assert b"Mitras may end an active session early" in page.content  # the help text
    form = {
        "request_timeout_seconds": "60",
        "push_fallback_seconds": "5",
        "closing_grace_seconds": "300",
        "early_end_mitra_enabled": "on",
        "early_end_mitra_daily_cap": "3",
        "alert_undelivered_wait_seconds": "15",
        "alert_expired_per_15_minutes": "3",
        "alert_undelivered_in_a_row": "3",
        "_save": "Save",
    }
    response = client.post(f"/admin/appconfig/runtimeconfig/{config.pk}/change/", form)
    assert response.status_code == 302
    assert mitra.get("/api/shared/config/").json()["early_end_mitra_enabled"] is True
    assert mitra.post(end_path(session_id), {"reason_code": "customer_left"}).status_code == 200

    change = ConfigChange.objects.get(field="early_end_mitra_enabled")
    assert (change.old_value, change.new_value, change.changed_by.username, change.source) == (
        "false", "true", "boss", "admin",
    )  # fmt: skip
    history = client.get("/admin/appconfig/configchange/")
    assert b"early_end_mitra_enabled" in history.content and b"boss" in history.content


# --- lifecycle over time, with events to both sides -----------------------------------


@pytest.mark.django_db(transaction=True)
async def test_lifecycle_active_closing_closed_with_events_to_both_sides():
    await sync_to_async(set_config)(closing_grace_seconds=2)
    mitra, customer = await sync_to_async(make_account)("mitra"), await sync_to_async(make_account)("customer")
    mitra_ws = await mitra_socket(mitra)
    customer_ws = await customer_socket(customer)
    session = await sync_to_async(create_chat_request)(customer=customer.user, duration_minutes=5)
    await next_frame(mitra_ws, "chat_request.new")
    await sync_to_async(accept_chat_request)(mitra=mitra.user, session_id=session.id)
    await next_frame(mitra_ws, "chat_request.accepted")
    await next_frame(customer_ws, "session.accepted")

    await sync_to_async(shorten)(session.id, 1.5)
    assert await sync_to_async(advance_sessions)() == ([], [])  # not yet
    await sync_to_async(time.sleep)(1.6)
    started, closed = await sync_to_async(advance_sessions)()
    assert [s.id for s in started] == [session.id] and closed == []
    for comm in (mitra_ws, customer_ws):
        frame = await next_frame(comm, "session.closing")
        assert frame["data"]["status"] == "closing" and frame["data"]["grace_ends_at"]
    closure = await sync_to_async(SessionClosure.objects.get)(session_id=session.id)
    assert (closure.initiated_by, closure.reason_code) == ("system", "time_up")

    assert await sync_to_async(advance_sessions)() == ([], [])  # grace not over
    await sync_to_async(time.sleep)(2.1)
    started, closed = await sync_to_async(advance_sessions)()
    assert started == [] and [s.id for s in closed] == [session.id]
    for comm in (mitra_ws, customer_ws):
        frame = await next_frame(comm, "session.closed")
        assert frame["data"]["status"] == "closed" and frame["data"]["closed_at"]
    assert await sync_to_async(advance_sessions)() == ([], [])
    await mitra_ws.disconnect()
    await customer_ws.disconnect()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_move_each_session_once():
    set_config(closing_grace_seconds=60)
    mitra = make_account("mitra")
    ids = []
    for _ in range(25):
        session = create_chat_request(customer=make_account("customer").user, duration_minutes=10)
        accept_chat_request(mitra=mitra.user, session_id=session.id)
        ids.append(session.id)
    ChatRequest.objects.filter(id__in=ids).update(ends_at=timezone.now() - timedelta(seconds=1))

    first, second = run_together(advance_sessions, advance_sessions)
    started = Counter(s.id for s in first[0] + second[0])
    assert started == dict.fromkeys(ids, 1)
    assert SessionClosure.objects.filter(session_id__in=ids).count() == 25
    assert set(ChatRequest.objects.filter(id__in=ids).values_list("status", flat=True)) == {"closing"}

    ChatRequest.objects.filter(id__in=ids).update(grace_ends_at=timezone.now() - timedelta(seconds=1))
    first, second = run_together(advance_sessions, advance_sessions)
    closed = Counter(s.id for s in first[1] + second[1])
    assert closed == dict.fromkeys(ids, 1)
    assert set(ChatRequest.objects.filter(id__in=ids).values_list("status", flat=True)) == {"closed"}
    assert advance_sessions() == ([], [])
