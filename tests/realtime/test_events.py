"""Who receives which event for every state change (the model: Zulip's test_events.py).

Each state change runs through its service with the real database; the events it
announced after commit are captured at the bus, as every subscriber sees them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pairing.accounts.services import set_mitra_availability
from pairing.errors import RequestNotPending
from pairing.events import bus
from pairing.models import ChatRequest
from pairing.requests.services import (
    accept_chat_request,
    cancel_chat_request,
    create_chat_request,
    decline_chat_request,
    expire_overdue_requests,
)
from pairing.sessions.services import advance_sessions, end_session_early
from tests.support import make_account, make_overdue, set_config


@pytest.fixture
def events(db, django_capture_on_commit_callbacks):
    """Run a change, commit it, and return [(type, {user_id: data})] as announced."""
    captured: list[bus.Event] = []
    bus._subscribers.append(captured.append)

    def run(change, **kwargs):
        captured.clear()
        with django_capture_on_commit_callbacks(execute=True):
            try:
                change(**kwargs)
            except RequestNotPending:
                pass
        return [(e.type, {uid: a.data for a in e.audiences for uid in a.user_ids}) for e in captured]

    yield run
    bus._subscribers.remove(captured.append)


@pytest.fixture
def cast(db):
    customer = make_account("customer").user
    ayu, budi, citra = (make_account("mitra").user for _ in range(3))
    away = make_account("mitra").user
    set_mitra_availability(mitra=away, is_available=False)
    return customer, ayu, budi, citra


def fields(data: dict, *names: str) -> tuple:
    return tuple(data[name] for name in names)


def test_create_offers_every_available_mitra(events, cast):
    customer, ayu, budi, citra = cast
    [(kind, to)] = events(create_chat_request, customer=customer, duration_minutes=30)
    assert kind == "chat_request.new"
    assert set(to) == {ayu.id, budi.id, citra.id}
    assert {fields(d, "status", "can_respond", "my_response") for d in to.values()} == {("pending", True, None)}


def test_create_with_nobody_available_tells_the_customer_only(events, db):
    customer = make_account("customer").user
    [(kind, to)] = events(create_chat_request, customer=customer, duration_minutes=30)
    assert (kind, set(to)) == ("session.expired", {customer.id})
    assert fields(to[customer.id], "status", "expire_reason") == ("expired", "no_mitra_available")


def test_accept_tells_the_acceptor_the_others_and_the_customer(events, cast):
    customer, ayu, budi, citra = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    decline_chat_request(mitra=citra, session_id=session.id)
    announced = dict((kind, to) for kind, to in events(accept_chat_request, mitra=ayu, session_id=session.id))
    assert set(announced) == {"chat_request.accepted", "chat_request.taken", "session.accepted"}
    assert set(announced["chat_request.accepted"]) == {ayu.id}
    assert fields(announced["chat_request.accepted"][ayu.id], "status", "my_response") == ("accepted", "accepted")
    taken = announced["chat_request.taken"]
    assert set(taken) == {budi.id, citra.id}
    assert fields(taken[budi.id], "status", "my_response", "message") == (
        "taken", "missed", "Permintaan diterima oleh Bestie lain",
    )  # fmt: skip
    assert fields(taken[citra.id], "status", "my_response") == ("taken", "rejected")
    assert set(announced["session.accepted"]) == {customer.id}
    assert announced["session.accepted"][customer.id]["mitra"]["user_id"] == ayu.id


def test_decline_tells_the_decliner_only_until_the_last_one(events, cast):
    customer, ayu, budi, citra = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    [(kind, to)] = events(decline_chat_request, mitra=ayu, session_id=session.id)
    assert (kind, set(to)) == ("chat_request.declined", {ayu.id})
    decline_chat_request(mitra=budi, session_id=session.id)
    announced = dict(events(decline_chat_request, mitra=citra, session_id=session.id))
    assert set(announced) == {"chat_request.declined", "chat_request.expired", "session.expired"}
    assert set(announced["chat_request.expired"]) == {ayu.id, budi.id, citra.id}
    assert announced["session.expired"][customer.id]["expire_reason"] == "all_declined"


def test_cancel_tells_the_customer_and_every_notified_mitra(events, cast):
    customer, ayu, budi, citra = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    announced = dict(events(cancel_chat_request, customer=customer, session_id=session.id))
    assert set(announced) == {"chat_request.cancelled", "session.cancelled"}
    assert set(announced["chat_request.cancelled"]) == {ayu.id, budi.id, citra.id}
    assert {d["my_response"] for d in announced["chat_request.cancelled"].values()} == {"cancelled"}
    assert set(announced["session.cancelled"]) == {customer.id}


@pytest.mark.parametrize("how", ["sweep", "late accept"])
def test_expiry_tells_the_customer_and_every_notified_mitra(events, cast, how):
    customer, ayu, budi, citra = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    make_overdue(session.id)
    if how == "sweep":
        announced = dict(events(expire_overdue_requests))
    else:  # the accept finds it overdue: the expiry commits and is announced, the accept is refused
        announced = dict(events(accept_chat_request, mitra=ayu, session_id=session.id))
    assert set(announced) == {"chat_request.expired", "session.expired"}
    assert set(announced["chat_request.expired"]) == {ayu.id, budi.id, citra.id}
    assert {d["my_response"] for d in announced["chat_request.expired"].values()} == {"ignored"}
    assert announced["session.expired"][customer.id]["expire_reason"] == "timeout"


def test_session_closing_and_closed_tell_both_sides(events, cast):
    customer, ayu, _, _ = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    accept_chat_request(mitra=ayu, session_id=session.id)
    set_config(early_end_mitra_enabled=True, closing_grace_seconds=0)
    [(kind, to)] = events(end_session_early, mitra=ayu, session_id=session.id, reason_code="customer_left",
                          reason_note="")  # fmt: skip
    assert (kind, set(to)) == ("session.closing", {customer.id, ayu.id})
    [(kind, to)] = events(advance_sessions)
    assert (kind, set(to)) == ("session.closed", {customer.id, ayu.id})


def test_time_up_moves_a_session_to_closing_for_both_sides(events, cast):
    customer, ayu, _, _ = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    accept_chat_request(mitra=ayu, session_id=session.id)
    ChatRequest.objects.filter(id=session.id).update(ends_at=timezone.now() - timedelta(seconds=1))
    [(kind, to)] = events(advance_sessions)
    assert (kind, set(to)) == ("session.closing", {customer.id, ayu.id})
    assert to[customer.id]["status"] == "closing"


def test_a_change_that_rolls_back_announces_nothing(events, cast):
    customer, ayu, _, _ = cast
    session = create_chat_request(customer=customer, duration_minutes=30)
    accept_chat_request(mitra=ayu, session_id=session.id)
    assert events(cancel_chat_request, customer=customer, session_id=session.id) == []  # 409: not pending
