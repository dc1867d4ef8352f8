"""Past capacity a new request is refused, explicitly, before every offer is late: 503
`unavailable` with `"reason": "busy"` and Retry-After while this process hands committed
events to its sockets more than SHED_BEHIND_SECONDS late. Nothing is created, and every
other call (cancel, accept, decline: they end fan-outs) is still served.

The backlog is real: the process's dispatch thread is held by a job that waits, as it is
when its sockets are behind.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.test import override_settings

from pairing.events.dispatcher import dispatcher
from pairing.models import ChatRequest
from tests.support import create_request, make_account

pytestmark = pytest.mark.django_db(transaction=True)


class HeldDispatchThread:
    """The dispatch thread busy with an earlier change's events for as long as the test says."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __enter__(self) -> HeldDispatchThread:
        started = threading.Event()

        def busy() -> None:
            started.set()
            self.release.wait(30)

        threading.Thread(target=dispatcher.run, args=(busy,), daemon=True).start()
        assert started.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()


@override_settings(SHED_BEHIND_SECONDS=0.5, EVENTS_DISPATCH_WAIT_SECONDS=0.25)
def test_a_new_request_is_refused_with_retry_after_while_events_are_behind_then_taken():
    customer, other, mitra = make_account("customer"), make_account("customer"), make_account("mitra")
    waiting = create_request(other)
    with HeldDispatchThread():
        assert customer.post("/api/customer/chat-requests/", {"duration_minutes": 30}).status_code == 201  # not yet
        time.sleep(1.2)  # that create's events now wait behind the held job too
        response = customer.post("/api/customer/chat-requests/", {"duration_minutes": 30})
        assert response.status_code == 503
        body = response.json()["error"]
        assert (body["code"], body["reason"]) == ("unavailable", "busy")
        assert int(response["Retry-After"]) >= 1 and body["retry_after"] == int(response["Retry-After"])
        assert ChatRequest.objects.filter(customer=customer.user).count() == 1  # nothing more was created
        # What ends a fan-out is never refused.
        assert other.post(f"/api/customer/chat-requests/{waiting}/cancel/").status_code == 200
    time.sleep(0.5)
    assert mitra.get("/api/mitra/chat-requests/pending/").status_code == 200
    third = make_account("customer")
    assert third.post("/api/customer/chat-requests/", {"duration_minutes": 30}).status_code == 201


@override_settings(SHED_BEHIND_SECONDS=0, EVENTS_DISPATCH_WAIT_SECONDS=0.25)
def test_shedding_can_be_turned_off():
    customer = make_account("customer")
    make_account("mitra")
    with HeldDispatchThread():
        time.sleep(0.6)
        assert customer.post("/api/customer/chat-requests/", {"duration_minutes": 30}).status_code == 201
