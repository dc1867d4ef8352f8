"""The top bar's search: a request by its id or first characters, a mitra or a customer
by name; one hit opens it, several are listed; a short id in a request URL and an
unknown page both lead to the search."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from pairing.models import ChatRequest
from tests.support import make_account


def _request(customer, request_id: str) -> ChatRequest:
    now = timezone.now()
    return ChatRequest.objects.create(
        id=uuid.UUID(request_id), customer=customer.user, status="expired", duration_minutes=30, requested_at=now,
        expires_at=now + timedelta(seconds=60),
    )  # fmt: skip


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff.user)
    return client


@pytest.mark.django_db
def test_one_hit_opens_it_and_several_are_listed(signed_in):
    sari = make_account("customer", "sari")
    one = _request(sari, "3f2a9c1e-0000-4000-8000-000000000001")
    _request(make_account("customer"), "3f2a9c1e-0000-4000-8000-000000000002")
    _request(make_account("customer"), "9b000000-0000-4000-8000-000000000003")
    opened = signed_in.get("/control-center/search/", {"q": str(one.id)})
    assert opened.status_code == 302 and opened["Location"] == f"/control-center/requests/{one.id}/"
    listed = signed_in.get("/control-center/search/", {"q": "3F2A9C1E"}).content.decode()  # a prefix, any case
    assert "2 matches" in listed and listed.count('class="pill kind">request<') == 2 and "9b000000" not in listed
    assert signed_in.get("/control-center/search/", {"q": "3f2a9c1e-0000-4000-8000-00000000000"}).status_code == 200
    mitra = make_account("mitra", "wulan")
    found = signed_in.get("/control-center/search/", {"q": "wULan"})
    assert found.status_code == 302 and found["Location"] == f"/control-center/mitra-activity/{mitra.id}/"
    customer = signed_in.get("/control-center/search/", {"q": "display sari"})
    assert customer["Location"] == f"/control-center/requests/?customer={sari.id}"
    assert f"/control-center/requests/{one.id}/" in signed_in.get(customer["Location"]).content.decode()
    nothing = signed_in.get("/control-center/search/", {"q": "zzzz"}).content.decode()
    assert "0 matches" in nothing and "Nothing matches" in nothing
    assert signed_in.get("/control-center/search/", {"q": "x" * 5000}).status_code == 200  # cut, never a 5xx


@pytest.mark.django_db
def test_a_short_id_in_a_request_url_searches_and_an_unknown_page_offers_the_search(signed_in, customer):
    request = _request(customer, "5d1e2f3a-0000-4000-8000-000000000009")
    short = signed_in.get("/control-center/requests/5d1e2f3a/", follow=True)
    assert short.redirect_chain[-1][0] == f"/control-center/requests/{request.id}/"
    missing = signed_in.get("/control-center/requests/5d1e2f3b-0000-4000-8000-000000000009/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert '<link rel="stylesheet"' in page and 'action="/control-center/search/"' in page and "Not found" in page
    nowhere = signed_in.get("/control-center/no-such-page/")
    assert nowhere.status_code == 404 and 'action="/control-center/search/"' in nowhere.content.decode()


@pytest.mark.django_db
def test_only_staff_search(client, customer):
    assert client.get("/control-center/search/", {"q": "a"}).status_code == 302  # to sign in
    client.force_login(customer.user)
    assert client.get("/control-center/search/", {"q": "a"})["Location"].startswith("/control-center/login/")
