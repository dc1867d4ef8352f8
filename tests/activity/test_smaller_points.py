"""The control center's smaller points: a rate opens its sample (Early ends like
Acceptance), "To" alone fills "From", an error keeps the data beside it, dates as
YYYY-MM-DD, counts in the singular, a favicon, the "over daily cap" badge kept after
review, and bulk review."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from pairing.models import ChatRequest, SessionClosure
from tests.support import make_account


def _session(mitra, customer, accepted_ago: timedelta, closed_early: bool, flagged: bool = False):
    accepted = timezone.now() - accepted_ago
    session = ChatRequest.objects.create(
        customer=customer.user, mitra=mitra.user, status="closed", duration_minutes=30, requested_at=accepted,
        expires_at=accepted + timedelta(seconds=60), accepted_at=accepted,
    )  # fmt: skip
    if closed_early:
        return SessionClosure.objects.create(
            session=session, initiated_by="mitra", initiator=mitra.user, reason_code="other", needs_review=flagged,
            created_at=accepted + timedelta(minutes=5),
        )  # fmt: skip
    return session


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff.user)
    return client


@pytest.mark.django_db
def test_early_ends_opens_its_sample_like_acceptance(signed_in):
    mitra, customer = make_account("mitra", "ayu"), make_account("customer")
    _session(mitra, customer, timedelta(hours=2), closed_early=True)
    _session(mitra, customer, timedelta(hours=3), closed_early=False)
    page = signed_in.get("/control-center/mitra-activity/").content.decode()
    row = re.search(r"<tr><th scope=\"row\"><a [^>]*>Display ayu</a></th>(.*?)</tr>", page, flags=re.S).group(1)
    early = re.findall(r'<td class="num">(.*?)</td>', row)[-1]
    assert "50% (1 of 2)" in early
    opened = signed_in.get(unescape(re.search(r'href="([^"]+)"', early).group(1))).content.decode()
    assert "· 2 requests" in opened  # the sample (sessions accepted), as Acceptance opens its base
    detail = signed_in.get(f"/control-center/mitra-activity/{mitra.id}/").content.decode()
    assert "the 1 force-close<" in detail  # the numerator is one click away on the mitra's page


@pytest.mark.django_db
def test_to_alone_fills_from_and_an_error_keeps_the_data(signed_in):
    mitra, customer = make_account("mitra", "ayu"), make_account("customer")
    _session(mitra, customer, timedelta(hours=1), closed_early=False)
    to_only = signed_in.get("/control-center/requests/?date_to=2026-11-30").content.decode()
    assert 'name="date_from" value="2026-11-01"' in to_only  # the 30 days up to "To", written in
    assert 'placeholder="YYYY-MM-DD"' in to_only and 'type="date"' not in to_only  # one date format on the page
    wrong = signed_in.get("/control-center/requests/?date_from=2026-13-40&outcome=accepted")
    page = wrong.content.decode()
    assert wrong.status_code == 400 and "Enter a valid date" in page
    assert "without the filters marked wrong" in page and "· 1 request," in page  # data beside the error
    assert "Download these requests" not in page  # a download is only ever of what was asked


@pytest.mark.django_db
def test_favicon_singular_counts_and_the_badge_kept_after_review(signed_in, staff):
    assert '<link rel="icon"' in signed_in.get("/control-center/force-closes/").content.decode()
    assert signed_in.get("/static/control_center/favicon.svg").status_code == 200
    mitra, customer = make_account("mitra", "ayu"), make_account("customer")
    closure = _session(mitra, customer, timedelta(hours=1), closed_early=True, flagged=True)
    assert "· 1 closure ·" in signed_in.get("/control-center/force-closes/").content.decode()
    signed_in.post(f"/control-center/force-closes/{closure.id}/review/", {"note": "ok"})
    page = signed_in.get("/control-center/force-closes/").content.decode()
    assert "reviewed</span>" in page and "over daily cap" in page


@pytest.mark.django_db
def test_bulk_review(signed_in, staff):
    mitra, customer = make_account("mitra", "ayu"), make_account("customer")
    closures = [_session(mitra, customer, timedelta(hours=h), closed_early=True, flagged=True) for h in (1, 2, 3)]
    done = signed_in.post(
        "/control-center/force-closes/review/",
        {
            "closure": [closures[0].id, closures[1].id, "x"],
            "note": "Week's review",
            "next": "/control-center/force-closes/",
        },
        follow=True,
    )
    assert "Marked 2 reviewed." in done.content.decode()
    reviewed = SessionClosure.objects.filter(reviewed_by=staff.user, review_note="Week's review")
    assert set(reviewed.values_list("id", flat=True)) == {closures[0].id, closures[1].id}
    again = signed_in.post("/control-center/force-closes/review/", {"closure": [closures[0].id]}, follow=True)
    assert "Marked 0 reviewed." in again.content.decode()  # already reviewed: left as it was
    nothing = signed_in.post("/control-center/force-closes/review/", {}, follow=True)
    assert "Tick at least one force-close" in nothing.content.decode()
    assert signed_in.get("/control-center/force-closes/review/").status_code == 405
