"""The pairing rules end to end over the REST API (contract sections 3, 4, 5 and 9)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db.models import ProtectedError

from pairing.models import ChatRequest, Offer, User, UserEvent
from pairing.requests import services
from pairing.requests.services import (
    expire_overdue_requests,
)
from tests.support import create_request, make_overdue, set_config

CREATE = "/api/customer/chat-requests/"


def status_of(mitra, session_id):
    return mitra.get(f"/api/mitra/chat-requests/{session_id}/status/")


def accept(mitra, session_id):
    return mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/")


def decline(mitra, session_id):
    return mitra.post(f"/api/mitra/chat-requests/{session_id}/decline/")


def cancel(customer, session_id):
    return customer.post(f"{CREATE}{session_id}/cancel/")


def log_row(session_id, mitra) -> Offer:
    return Offer.objects.get(session_id=session_id, mitra_id=mitra.id)


def pending_ids(mitra) -> list[str]:
    response = mitra.get("/api/mitra/chat-requests/pending/")
    assert response.status_code == 200
    return [item["session_id"] for item in response.json()["results"]]


# --- create ------------------------------------------------------------------


def test_create_returns_pending_session_and_notifies_every_available_mitra(customer, mitras, config):
    response = customer.post(CREATE, {"duration_minutes": 30})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["expire_reason"] is None
    assert body["duration_minutes"] == 30
    assert body["mitra"] is None
    assert body["customer"] == {"user_id": customer.id, "display_name": customer.user.display_name}
    requested = datetime.fromisoformat(body["requested_at"])
    expires = datetime.fromisoformat(body["expires_at"])
    assert (expires - requested).total_seconds() == config.request_timeout_seconds == 60
    assert body["requested_at"].endswith("+07:00")  # ISO 8601 with the offset
    for key in ("accepted_at", "ends_at", "closing_started_at", "grace_ends_at", "closed_at"):
        assert body[key] is None
    for mitra in mitras:
        assert pending_ids(mitra) == [body["session_id"]]
        row = log_row(body["session_id"], mitra)
        assert row.response is None and row.active_session_count == 0
    assert customer.get(f"{CREATE}{body['session_id']}/").json() == body


def test_unavailable_mitras_are_not_notified(customer, mitras):
    assert mitras[0].patch("/api/mitra/me/", {"is_available": False}).status_code == 200
    session_id = create_request(customer)
    assert pending_ids(mitras[0]) == []
    assert status_of(mitras[0], session_id).status_code == 404
    assert pending_ids(mitras[1]) == [session_id]


def test_no_available_mitra_gives_an_expired_request(customer, mitras):
    for mitra in mitras:
        mitra.patch("/api/mitra/me/", {"is_available": False})
    response = customer.post(CREATE, {"duration_minutes": 10})
    assert response.status_code == 201
    assert response.json()["status"] == "expired"
    assert response.json()["expire_reason"] == "no_mitra_available"
    # It is not pending, so the customer may ask again at once.
    assert customer.post(CREATE, {"duration_minutes": 10}).status_code == 201


def test_second_pending_request_is_refused(customer, mitras):
    first = create_request(customer)
    response = customer.post(CREATE, {"duration_minutes": 15})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "request_already_pending"
    assert error["session"]["session_id"] == first
    assert ChatRequest.objects.filter(customer_id=customer.id).count() == 1


def test_overdue_pending_request_does_not_block_a_new_one(customer, mitras):
    first = create_request(customer)
    make_overdue(first)
    second = create_request(customer)
    assert second != first
    assert ChatRequest.objects.get(id=first).status == "expired"
    assert log_row(first, mitras[0]).response == "ignored"


@pytest.mark.parametrize("times", [2, services.CREATE_ATTEMPTS])
def test_a_create_refused_by_a_request_resolved_before_it_is_looked_at_inserts_again(
    customer, mitras, monkeypatch, times
):
    """Races the index cannot show: another create by the same customer commits (refusing
    this insert) and is cancelled or accepted before this one looks for it, again and again.
    The create inserts again rather than answer about a request that is gone."""
    real, refusals = services._inserted, []

    def refused_by_vanished_requests(session):
        if len(refusals) < times:
            refusals.append(session.id)
            return False  # as if a concurrent pending request had refused it, then resolved
        return real(session)

    monkeypatch.setattr(services, "_inserted", refused_by_vanished_requests)
    response = customer.post(CREATE, {"duration_minutes": 10})
    assert response.status_code == 201
    assert len(refusals) == times
    assert ChatRequest.objects.get(customer_id=customer.id).status == "pending"


@pytest.mark.parametrize("minutes", [5, 180])
def test_duration_bounds_are_inclusive(customer, mitras, minutes):
    assert customer.post(CREATE, {"duration_minutes": minutes}).status_code == 201


def test_active_session_count_is_recorded_at_fan_out(make_customer, mitras):
    first, second = make_customer(), make_customer()
    accept(mitras[0], create_request(first))
    session_id = create_request(second)
    assert log_row(session_id, mitras[0]).active_session_count == 1
    assert log_row(session_id, mitras[1]).active_session_count == 0
    assert mitras[0].get("/api/mitra/me/").json()["active_session_count"] == 1


# --- accept: first wins, others see taken --------------------------------------


def test_first_accept_wins_and_others_see_taken(customer, mitras):
    session_id = create_request(customer, minutes=45)
    response = accept(mitras[0], session_id)
    assert response.status_code == 200
    body = response.json()
    assert body["request"]["status"] == "accepted"
    assert body["request"]["my_response"] == "accepted"
    assert body["request"]["can_respond"] is False
    assert body["request"]["message"] is None
    session = body["session"]
    assert session["status"] == "active"
    assert session["mitra"] == {"user_id": mitras[0].id, "display_name": mitras[0].user.display_name}
    accepted = datetime.fromisoformat(session["accepted_at"])
    assert (datetime.fromisoformat(session["ends_at"]) - accepted).total_seconds() == 45 * 60

    late = accept(mitras[1], session_id)
    assert late.status_code == 409
    error = late.json()["error"]
    assert error["code"] == "request_not_pending"
    assert error["request"]["status"] == "taken"
    assert error["request"]["message"] == "Permintaan diterima oleh Bestie lain"
    assert error["request"]["my_response"] == "missed"
    assert error["request"]["can_respond"] is False
    assert error["request"]["seconds_left"] == 0

    view = status_of(mitras[2], session_id).json()
    assert view["status"] == "taken" and view["my_response"] == "missed"
    assert pending_ids(mitras[2]) == []
    assert customer.get(f"{CREATE}{session_id}/").json()["status"] == "active"

    winner = log_row(session_id, mitras[0])
    assert winner.response == "accepted"
    assert winner.responded_at is not None
    assert winner.response_time_seconds == pytest.approx((winner.responded_at - winner.notified_at).total_seconds())
    for loser in mitras[1:]:
        row = log_row(session_id, loser)
        assert (row.response, row.responded_at, row.response_time_seconds) == ("missed", None, None)


def test_second_accept_by_the_winner_is_already_responded(customer, mitras):
    session_id = create_request(customer)
    assert accept(mitras[0], session_id).status_code == 200
    again = accept(mitras[0], session_id)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_responded"
    assert again.json()["error"]["request"]["status"] == "accepted"


def test_pending_view_counts_down(customer, mitras):
    session_id = create_request(customer)
    view = status_of(mitras[0], session_id).json()
    assert view["status"] == "pending"
    assert view["can_respond"] is True
    assert view["message"] is None
    assert view["my_response"] is None
    assert 58 <= view["seconds_left"] <= 60
    assert view["customer"] == {"display_name": customer.user.display_name}
    assert view["duration_minutes"] == 30
    assert set(view) == {
        "session_id", "status", "can_respond", "message", "my_response", "duration_minutes",
        "customer", "requested_at", "notified_at", "expires_at", "seconds_left",
    }  # fmt: skip


# --- decline -----------------------------------------------------------------


def test_decline_records_rejected_and_leaves_others_pending(customer, mitras):
    session_id = create_request(customer)
    response = decline(mitras[0], session_id)
    assert response.status_code == 200
    view = response.json()
    assert view["status"] == "pending"
    assert view["my_response"] == "rejected"
    assert view["can_respond"] is False
    assert pending_ids(mitras[0]) == []
    assert pending_ids(mitras[1]) == [session_id]
    row = log_row(session_id, mitras[0])
    assert row.response == "rejected" and row.responded_at is not None and row.response_time_seconds >= 0

    again = decline(mitras[0], session_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_responded"
    after = accept(mitras[0], session_id)
    assert after.status_code == 409 and after.json()["error"]["code"] == "already_responded"


def test_all_declined_expires_at_once(customer, mitras):
    session_id = create_request(customer)
    for mitra in mitras:
        assert decline(mitra, session_id).status_code == 200
    session = customer.get(f"{CREATE}{session_id}/").json()
    assert session["status"] == "expired"
    assert session["expire_reason"] == "all_declined"
    view = status_of(mitras[0], session_id).json()
    assert view["status"] == "expired"
    assert view["message"] == "Permintaan kedaluwarsa"
    assert view["my_response"] == "rejected"
    assert {log_row(session_id, m).response for m in mitras} == {"rejected"}


def test_decline_after_taken_is_not_pending(customer, mitras):
    session_id = create_request(customer)
    accept(mitras[0], session_id)
    response = decline(mitras[1], session_id)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_not_pending"
    assert response.json()["error"]["request"]["status"] == "taken"
    assert log_row(session_id, mitras[1]).response == "missed"


# --- cancel ------------------------------------------------------------------


def test_cancel_marks_unanswered_rows_cancelled(customer, mitras):
    session_id = create_request(customer)
    decline(mitras[0], session_id)
    response = cancel(customer, session_id)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert log_row(session_id, mitras[0]).response == "rejected"  # set once, never changed
    for mitra in mitras[1:]:
        row = log_row(session_id, mitra)
        assert (row.response, row.responded_at) == ("cancelled", None)
        view = status_of(mitra, session_id).json()
        assert view["status"] == "cancelled"
        assert view["message"] == "Permintaan dibatalkan oleh customer"
        assert view["my_response"] == "cancelled"
        stale = accept(mitra, session_id)
        assert stale.status_code == 409
        assert stale.json()["error"]["code"] == "request_not_pending"
        assert stale.json()["error"]["request"]["message"] == "Permintaan dibatalkan oleh customer"
    # A new request is allowed once the old one is cancelled.
    assert customer.post(CREATE, {"duration_minutes": 5}).status_code == 201


def test_cancel_after_accept_is_not_pending(customer, mitras):
    session_id = create_request(customer)
    accept(mitras[0], session_id)
    response = cancel(customer, session_id)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "request_not_pending"
    assert error["session"]["status"] == "active"


# --- expiry ------------------------------------------------------------------


def test_no_accept_after_expires_at_even_before_the_sweep(customer, mitras):
    session_id = create_request(customer)
    make_overdue(session_id)
    # Before any sweep, the reads already tell the truth.
    assert pending_ids(mitras[0]) == []
    view = status_of(mitras[0], session_id).json()
    assert (view["status"], view["can_respond"], view["seconds_left"]) == ("expired", False, 0)
    assert view["message"] == "Permintaan kedaluwarsa"
    assert customer.get(f"{CREATE}{session_id}/").json()["expire_reason"] == "timeout"

    response = accept(mitras[0], session_id)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_not_pending"
    assert response.json()["error"]["request"]["status"] == "expired"
    assert response.json()["error"]["request"]["my_response"] == "ignored"
    # The refused accept expired the request for good.
    assert ChatRequest.objects.get(id=session_id).status == "expired"
    assert {log_row(session_id, m).response for m in mitras} == {"ignored"}


def test_decline_and_cancel_after_expires_at_are_not_pending(customer, mitras):
    session_id = create_request(customer)
    make_overdue(session_id)
    assert decline(mitras[0], session_id).json()["error"]["code"] == "request_not_pending"
    response = cancel(customer, session_id)
    assert response.status_code == 409
    assert response.json()["error"]["session"]["status"] == "expired"


def test_sweep_expires_overdue_requests_and_marks_rows_ignored(make_customer, mitras):
    overdue_customer, fresh_customer = make_customer(), make_customer()
    overdue = create_request(overdue_customer)
    fresh = create_request(fresh_customer)
    decline(mitras[0], overdue)
    make_overdue(overdue)
    expired = expire_overdue_requests()
    assert [str(s.id) for s in expired] == [overdue]
    assert log_row(overdue, mitras[0]).response == "rejected"
    for mitra in mitras[1:]:
        row = log_row(overdue, mitra)
        assert (row.response, row.responded_at, row.response_time_seconds) == ("ignored", None, None)
    assert ChatRequest.objects.get(id=fresh).status == "pending"
    assert expire_overdue_requests() == []  # idempotent


def test_short_configured_timeout_expires_by_the_clock(customer, mitras):
    set_config(request_timeout_seconds=1)
    body = customer.post(CREATE, {"duration_minutes": 5}).json()
    assert (datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["requested_at"])).seconds == 1


# --- history -----------------------------------------------------------------


def test_history_lists_the_last_20_newest_first(make_customer, mitras):
    mitra = mitras[0]
    session_ids = []
    for _ in range(22):
        c = make_customer()
        session_id = create_request(c, minutes=7)
        cancel(c, session_id)
        session_ids.append(session_id)
    accepted = create_request(make_customer())
    accept(mitra, accepted)
    results = mitra.get("/api/mitra/chat-requests/history/").json()["results"]
    assert len(results) == 20
    assert [r["session_id"] for r in results] == [accepted, *reversed(session_ids[-19:])]
    top = results[0]
    assert top["response"] == "accepted"
    assert top["session_status"] == "active"
    assert top["response_time_seconds"] >= 0 and top["responded_at"] is not None
    assert set(top) == {
        "session_id", "response", "notified_at", "responded_at", "response_time_seconds",
        "active_session_count", "duration_minutes", "session_status", "delivered_at", "delivered_via", "seen_at",
    }  # fmt: skip
    assert results[1]["response"] == "cancelled" and results[1]["duration_minutes"] == 7
    assert results[1]["session_status"] == "cancelled"


def test_pending_queue_is_oldest_first(make_customer, mitras):
    ids = [create_request(make_customer()) for _ in range(3)]
    assert pending_ids(mitras[0]) == ids


def test_deletes_keep_the_log_whole_without_database_foreign_keys(customer, mitras):
    """The log and outbox rows carry no database constraint (a fan-out writes one per
    mitra); Django's on_delete still guards them: a mitra with log rows cannot be deleted,
    and a deleted request or customer takes its own rows along."""
    session_id = create_request(customer)
    mitra = User.objects.get(pk=mitras[0].id)
    with pytest.raises(ProtectedError):
        mitra.delete()
    assert Offer.objects.filter(session_id=session_id).count() == len(mitras)
    assert UserEvent.objects.filter(user_id=mitra.id).exists()

    ChatRequest.objects.get(pk=session_id).delete()
    assert not Offer.objects.filter(session_id=session_id).exists()
    mitra.delete()  # no log rows left: the account and its events go
    assert not UserEvent.objects.filter(user_id=mitra.id).exists()
