"""The control center's operations features: numbers that open the rows behind them, a
request's timeline, the fair figures, the hourly view, force-close review and the live
view's socket, over the real database and channel layer."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from activity import selectors
from halobestie.asgi import application
from pairing.models import ChatRequest, Offer, SessionClosure
from tests.activity.test_delivery_figures import deliver
from tests.support import TIMEOUT, LivePage, at, create_request, make_account, set_config

PAGE = "/control-center/mitra-activity/"
RANGE = "date_from=2026-11-10&date_to=2026-11-12"
AVG_ACTIVE = 12  # the cell's index after the name


def _count_behind(client, href: str) -> int:
    html = client.get(unescape(href)).content.decode()
    found = re.search(r"· (\d+) (?:rows?|closures?|requests?)", html)
    assert found, href
    return int(found.group(1))


def _number_in(cell: str, href: str) -> int:
    """What a cell's link must open: a count's rows, a rate's sample ('50% (2 of 4)' → 4)."""
    text = unescape(re.sub(r"<[^>]+>", "", cell)).strip()
    if " s" in text:  # an average response: its n is beside it
        return int(re.search(r"n=(\d+)", cell).group(1))
    sample = re.search(r"\((\d+)(?: of (\d+))?\)$", text)
    if sample:
        return int(sample.group(2) or sample.group(1))
    return int(text)


def test_every_number_opens_the_rows_behind_it(seeded, staff, client):
    deliver(seeded)
    client.force_login(staff.user)
    html = client.get(f"{PAGE}?{RANGE}").content.decode()
    table = html[html.index('<table class="activity">') : html.index("</table>")]
    checked = 0
    for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, flags=re.S):
        cells = re.findall(r'<td class="num">(.*?)</td>', row)
        for index, cell in enumerate(cells):
            href = re.search(r'href="([^"]+)"', cell)
            assert href, cell  # every number is a link
            if re.sub(r"<[^>]+>", "", cell).strip() == "—":
                continue
            # Avg active sessions is over every notified row (the first cell).
            want = _number_in(cells[0], "") if index == AVG_ACTIVE else _number_in(cell, href.group(1))
            assert _count_behind(client, href.group(1)) == want, (row[:80], cell)
            checked += 1
    assert checked > 60


def test_pending_offers_are_counted_so_the_columns_add_up(seeded, staff, client, make_customer, make_mitra):
    mitra = make_mitra()
    create_request(make_customer())  # waiting: the new mitra's offer has no response yet
    today = timezone.localdate().isoformat()
    body = staff.get("/api/control-center/mitra-activity/", data={"date_from": today, "date_to": today}).json()
    row = next(r for r in body["results"] if r["mitra_id"] == mitra.id)
    assert row["notified"] == 1 and row["pending"] == 1
    parts = ("accepted", "rejected", "ignored", "missed", "cancelled", "pending")
    for r in [*body["results"], body["totals"]]:
        assert sum(r[k] for k in parts) == r["notified"]
    client.force_login(staff.user)
    html = client.get(PAGE, {"date_from": today, "date_to": today}).content.decode()
    assert "Pending" in html and "still waiting for a mitra now" in html


def test_response_rate_holds_a_mitra_who_lets_offers_run_out_to_account(seeded, staff):
    """ayu's ignored offer reached her app: answered 2 of 3 delivered; dewi, never delivered, has no rate."""
    deliver(seeded)
    body = staff.get("/api/control-center/mitra-activity/", data=dict(p.split("=") for p in RANGE.split("&"))).json()
    rows = Offer.objects.filter(notified_at__gte=at("2026-11-10 00:00"), notified_at__lt=at("2026-11-13 00:00"))
    for result in [*body["results"], body["totals"]]:
        mine = rows.filter(mitra_id=result["mitra_id"]) if "mitra_id" in result else rows
        delivered = mine.filter(delivered_at__isnull=False)
        answered = delivered.filter(response__in=["accepted", "rejected"]).count()
        assert result["delivered_answered"] == answered
        assert result["response_rate"] == (answered / delivered.count() if delivered.count() else None)
    ayu = next(r for r in body["results"] if r["display_name"] == "Display ayu")
    assert (ayu["delivered_answered"], ayu["delivered"], ayu["response_rate"]) == (2, 3, 2 / 3)


def test_a_requests_timeline_tells_what_happened_in_order(make_customer, make_mitra, staff, client):
    set_config(early_end_mitra_enabled=True)
    customer, first, second = make_customer(), make_mitra(), make_mitra()
    session_id = create_request(customer, minutes=30)
    assert first.post(f"/api/mitra/chat-requests/{session_id}/seen/").status_code == 200
    assert first.post(f"/api/mitra/chat-requests/{session_id}/decline/").status_code == 200
    assert second.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200
    ended = second.post(f"/api/mitra/chat-requests/sessions/{session_id}/end/",
                        {"reason_code": "customer_left", "reason_note": "pergi"})  # fmt: skip
    assert ended.status_code == 200, ended.content
    client.force_login(staff.user)
    html = client.get(f"/control-center/requests/{session_id}/").content.decode()
    timeline = html[html.index('<ol class="timeline"') : html.index("</ol>")]
    steps = [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", item))).strip()
             for item in re.findall(r"<li>(.*?)</li>", timeline, flags=re.S)]  # fmt: skip
    whats = [re.sub(r"^\S+ \S+ ", "", step) for step in steps]
    assert whats[0].startswith(f"Requested {customer.user.name} 30 minutes")
    assert sum(w.startswith("Offered") for w in whats) == 2
    order = [next(i for i, w in enumerate(whats) if w.startswith(p)) for p in (
        f"Delivered {first.user.name} via poll", f"Seen {first.user.name}", f"Rejected {first.user.name}",
        f"Accepted {second.user.name}", f"Session started {second.user.name}",
        f"Closing grace started {second.user.name}",
    )]  # fmt: skip
    assert order == sorted(order), whats
    assert "pergi" in whats[-1]
    assert f'href="/control-center/mitra-activity/{second.id}/"' in html  # the offers table links to each mitra
    assert client.get("/control-center/requests/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_hourly_view_counts_requests_and_acceptance_per_hour(seeded, staff, client):
    client.force_login(staff.user)
    rows = selectors.by_hour(at("2026-11-10 00:00"), at("2026-11-13 00:00"))
    start, end = at("2026-11-10 00:00"), at("2026-11-13 00:00")
    sessions = ChatRequest.objects.filter(requested_at__gte=start, requested_at__lt=end)
    for row in rows:
        mine = [s for s in sessions if timezone.localtime(s.requested_at).hour == row.hour]
        assert row.requests == len(mine), row.hour
        assert row.accepted == sum(s.accepted_at is not None for s in mine)
    assert sum(r.requests for r in rows) == sessions.count() > 0
    html = client.get("/control-center/hours/", {"date_from": "2026-11-10", "date_to": "2026-11-12"}).content.decode()
    assert (
        html.count("<tr><td>") == 24
        and "09:00\u201309:59" in html
        and 'aria-label="Requests by hour of the day"' in html
    )
    # Each hour's numbers open the requests (or offers) of that hour, exactly as many.
    opened = 0
    for row in re.findall(r"<tr><td>\d\d:00.*?</tr>", html, flags=re.S):
        for href, count in re.findall(r'<td class="num"><a href="([^"]+)">(\d+)</a></td>', row):
            listed = client.get(unescape(href)).content.decode()
            assert re.search(rf"· {count} (?:requests?|rows?)", listed), (href, count)
            opened += 1
    assert opened == 24 * 6


@pytest.fixture
def flagged_closure(seeded, make_customer):
    now = timezone.now()
    session = ChatRequest.objects.create(
        customer=make_customer().user, mitra=seeded["ayu"].user, duration_minutes=30, status="closing",
        requested_at=now - timedelta(minutes=13), expires_at=now, accepted_at=now - timedelta(minutes=12),
    )  # fmt: skip
    return SessionClosure.objects.create(
        session=session, initiated_by="mitra", initiator=seeded["ayu"].user, reason_code="other",
        reason_note="Kasar", needs_review=True, created_at=now - timedelta(minutes=2),
    )  # fmt: skip


def test_staff_review_a_flagged_force_close_once(flagged_closure, staff, client, seeded):
    client.force_login(staff.user)
    page = client.get("/control-center/force-closes/").content.decode()
    assert "10 / 30 min" in page  # served vs booked
    assert f'href="/control-center/requests/{flagged_closure.session_id}/"' in page
    review = f"/control-center/force-closes/{flagged_closure.id}/review/"
    done = client.post(review, {"note": "Talked to ayu", "next": "/control-center/force-closes/"}, follow=True)
    assert "Marked reviewed." in done.content.decode()
    flagged_closure.refresh_from_db()
    assert flagged_closure.reviewed_by_id == staff.id and flagged_closure.review_note == "Talked to ayu"
    assert flagged_closure.reviewed_at is not None
    again = client.post(review, {"note": "overwrite", "next": "https://evil.example/"}, follow=True)
    assert again.redirect_chain[-1][0] == "/control-center/force-closes/"  # not off-site
    assert "already been reviewed" in again.content.decode()
    flagged_closure.refresh_from_db()
    assert flagged_closure.review_note == "Talked to ayu"
    mitra_page = client.get(f"{PAGE}{seeded['ayu'].id}/").content.decode()
    assert "reviewed" in mitra_page and "Talked to ayu" in mitra_page  # listed on the mitra's page too
    assert client.post("/control-center/force-closes/999999/review/", {"note": "x"}).status_code == 404
    client.force_login(seeded["ayu"].user)
    assert client.post(review, {"note": "x"}).status_code == 302  # a mitra is sent to sign in
    assert client.post("/control-center/force-closes/999999/review/").status_code == 302


# --- the live view's socket -----------------------------------------------------------


def _cookie_socket(client) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}" if "sessionid" in client.cookies else ""
    return WebsocketCommunicator(
        application, "/ws/control-center/live/",
        headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")],
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
async def test_live_socket_sends_the_state_again_when_a_request_is_created_and_accepted(client):
    staff = await sync_to_async(make_account)("staff")
    customer, mitra = await sync_to_async(make_account)("customer"), await sync_to_async(make_account)("mitra")
    await sync_to_async(client.force_login)(staff.user)
    comm = _cookie_socket(client)
    assert (await comm.connect(TIMEOUT))[0]
    page = LivePage(comm)
    assert (await page.next())["type"] == "snapshot"
    assert page.state["pending"] == [] and page.state["today"]["requests"] == 0
    session_id = await sync_to_async(create_request)(customer)
    await page.until(lambda: [p["id"] for p in page.state["pending"]] == [session_id])
    assert page.state["pending"][0]["offered"] == 1 and page.state["today"]["pending"] == 1
    assert (await sync_to_async(mitra.post)(f"/api/mitra/chat-requests/{session_id}/accept/")).status_code == 200
    await page.until(lambda: page.state["pending"] == [])
    assert page.state["today"]["accepted"] == 1
    assert page.group("in_session") == [mitra.user.name]
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_live_socket_refuses_anyone_but_staff(client):
    mitra = await sync_to_async(make_account)("mitra")
    anonymous = _cookie_socket(client)
    connected, code = await anonymous.connect(TIMEOUT)
    assert (connected, code) == (False, 4403)
    await sync_to_async(client.force_login)(mitra.user)
    connected, code = await _cookie_socket(client).connect(TIMEOUT)
    assert (connected, code) == (False, 4403)
    staff = await sync_to_async(make_account)("staff")
    await sync_to_async(client.force_login)(staff.user)
    elsewhere = WebsocketCommunicator(application, "/ws/control-center/live/", headers=[
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"https://evil.example"),
    ])  # fmt: skip
    connected, _ = await elsewhere.connect(TIMEOUT)
    assert not connected  # another site cannot open it with staff's cookie
