"""Races on PostgreSQL over real HTTP: first accept wins, accept vs cancel, accept vs
the expiry sweep, and two sweeps at once. Skipped on SQLite (no row locks)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from functools import partial

import httpx
import pytest
from django.utils import timezone

from pairing.models import ChatRequest, Offer
from pairing.requests.services import create_chat_request, expire_overdue_requests
from tests.support import make_account, requires_postgres, run_together

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def _post(base_url: str, token: str, path: str, json=None) -> httpx.Response:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=30) as client:
        return client.post(path, json=json)


def _responses(session_id) -> Counter:
    return Counter(Offer.objects.filter(session_id=session_id).values_list("response", flat=True))


def _create(live_server, customer) -> str:
    response = _post(live_server.url, customer.token, "/api/customer/chat-requests/", {"duration_minutes": 30})
    assert response.status_code == 201, response.text
    return response.json()["session_id"]


@pytest.fixture
def twenty_mitras():
    return [make_account("mitra") for _ in range(20)]


def test_twenty_mitras_accepting_at_once_exactly_one_wins(live_server, twenty_mitras):
    for _ in range(ROUNDS):
        customer = make_account("customer")
        session_id = _create(live_server, customer)
        path = f"/api/mitra/chat-requests/{session_id}/accept/"
        results = run_together(*[partial(_post, live_server.url, m.token, path) for m in twenty_mitras])
        codes = Counter(r.status_code for r in results)
        assert codes == {200: 1, 409: 19}
        assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"request_not_pending"}
        assert {r.json()["error"]["request"]["status"] for r in results if r.status_code == 409} == {"taken"}
        winner = twenty_mitras[next(i for i, r in enumerate(results) if r.status_code == 200)]
        session = ChatRequest.objects.get(id=session_id)
        assert (session.status, session.mitra_id) == ("active", winner.id)
        assert _responses(session_id) == {"accepted": 1, "missed": 19}
        assert Offer.objects.get(session_id=session_id, response="accepted").mitra_id == winner.id


def test_accept_racing_cancel_has_one_outcome(live_server, twenty_mitras):
    mitras = twenty_mitras[:5]
    outcomes = Counter()
    for _ in range(ROUNDS * 2):
        customer = make_account("customer")
        session_id = _create(live_server, customer)
        accept_path = f"/api/mitra/chat-requests/{session_id}/accept/"
        calls = [partial(_post, live_server.url, customer.token, f"/api/customer/chat-requests/{session_id}/cancel/")]
        calls += [partial(_post, live_server.url, m.token, accept_path) for m in mitras]
        cancel, *accepts = run_together(*calls)
        accepted = [r for r in accepts if r.status_code == 200]
        session = ChatRequest.objects.get(id=session_id)
        if cancel.status_code == 200:
            assert accepted == []
            assert session.status == "cancelled"
            assert _responses(session_id) == {"cancelled": 20}
            outcomes["cancelled"] += 1
        else:
            assert cancel.status_code == 409 and cancel.json()["error"]["code"] == "request_not_pending"
            assert len(accepted) == 1 and session.status == "active"
            assert _responses(session_id) == {"accepted": 1, "missed": 19}
            outcomes["accepted"] += 1
        assert all(r.status_code in (200, 409) for r in accepts)
    assert sum(outcomes.values()) == ROUNDS * 2


def test_accept_racing_the_sweep_never_accepts_after_expiry(live_server, twenty_mitras):
    mitras = twenty_mitras[:3]
    for _ in range(ROUNDS * 2):
        customer = make_account("customer")
        session_id = _create(live_server, customer)
        # The deadline falls within a few milliseconds of the racing calls.
        offset = timedelta(milliseconds=random.randint(-15, 15))
        ChatRequest.objects.filter(id=session_id).update(expires_at=timezone.now() + offset)
        calls = [expire_overdue_requests, expire_overdue_requests]
        accept_path = f"/api/mitra/chat-requests/{session_id}/accept/"
        calls += [partial(_post, live_server.url, m.token, accept_path) for m in mitras]
        _, _, *accepts = run_together(*calls)
        expire_overdue_requests()
        session = ChatRequest.objects.get(id=session_id)
        accepted = [r for r in accepts if r.status_code == 200]
        if session.status == "active":
            assert len(accepted) == 1
            assert session.accepted_at < session.expires_at
            assert _responses(session_id) == {"accepted": 1, "missed": 19}
        else:
            assert session.status == "expired" and session.expire_reason == "timeout"
            assert accepted == []
            assert _responses(session_id) == {"ignored": 20}


def test_two_sweeps_at_once_expire_each_request_once(twenty_mitras):
    sessions = [create_chat_request(customer=make_account("customer").user, duration_minutes=10) for _ in range(30)]
    ChatRequest.objects.filter(id__in=[s.id for s in sessions]).update(expires_at=timezone.now() - timedelta(seconds=1))
    first, second = run_together(expire_overdue_requests, expire_overdue_requests)
    first_ids, second_ids = {s.id for s in first}, {s.id for s in second}
    assert first_ids.isdisjoint(second_ids)
    assert first_ids | second_ids == {s.id for s in sessions}
    snapshot = list(Offer.objects.order_by("id").values_list("id", "response", "resolved_at"))
    assert expire_overdue_requests() == []
    assert list(Offer.objects.order_by("id").values_list("id", "response", "resolved_at")) == snapshot
    assert Counter(r for _, r, _ in snapshot) == {"ignored": 30 * 20}


def test_concurrent_creates_by_one_customer_make_one_request(live_server, twenty_mitras):
    customer = make_account("customer")
    results = run_together(
        *[partial(_post, live_server.url, customer.token, "/api/customer/chat-requests/", {"duration_minutes": 10})] * 8
    )
    assert Counter(r.status_code for r in results) == {201: 1, 409: 7}
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"request_already_pending"}
    assert ChatRequest.objects.filter(customer_id=customer.id).count() == 1
