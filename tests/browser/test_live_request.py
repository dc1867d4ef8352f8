"""On the real stack (daphnes, Celery, Redis) in chromium: a request's page counts down
while the request waits and shows the accept as it happens, and the live page's mitra
board shows the mitra's day and the alerts, all without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.sync.client import connect

from devtools.stack import DEMO_PASSWORD, Stack

from .axe import assert_accessible
from .conftest import CHROMIUM, WIDTHS, launch, new_page, shot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def stack():
    with Stack() as running:
        running.manage("appconfig", "request_timeout_seconds=30")
        yield running


def test_a_request_page_counts_down_and_shows_the_accept_live(stack):
    from playwright.sync_api import sync_playwright

    customer = stack.client(stack.login("customer1"))
    mitra_token = stack.login("mitra3")
    mitra = stack.client(mitra_token)
    with sync_playwright() as playwright, connect(f"{stack.ws_url}/ws/mitra/?token={mitra_token}") as app:
        app.recv(timeout=10)  # hello
        browser = launch(playwright)
        page = new_page(browser, WIDTHS["375"])
        sign_in(page, stack.url, "staff", DEMO_PASSWORD, "/control-center/live/")
        session_id = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 15}).json()["session_id"]
        page.goto(f"{stack.url}/control-center/requests/{session_id}/")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloads
        countdown = page.locator("#countdown")
        countdown.wait_for(state="visible")
        first = countdown.inner_text()
        assert first.startswith("expires in ") and first.endswith(" s"), first
        page.wait_for_function(f"document.getElementById('countdown').textContent !== {first!r}", timeout=3000)
        assert page.inner_text("#request-status").startswith("pending")
        shot(page, "request-live-375-pending")

        assert mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200
        page.wait_for_selector("#request-status.active", timeout=WAIT_MS)
        page.wait_for_selector("#timeline li:has-text('Session started')", timeout=WAIT_MS)
        assert page.locator("#countdown").is_hidden()
        assert page.locator("#offers-body .pill.accepted").count() == 1
        assert page.inner_text("#request-mitra") == "Bestie Citra" and page.inner_text("#request-to-accept").endswith(
            " s"
        )
        assert page.evaluate("window.loadedOnce") is True
        shot(page, "request-live-375-accepted")
        assert_accessible(page, "a request's page after a live update at 375 px")

        # The live page: the mitra in a session on the board, with today's figures.
        page.goto(f"{stack.url}/control-center/live/")
        page.wait_for_selector("#live-status.live")
        row = page.locator("#board tbody tr", has_text="Bestie")
        row.first.wait_for(timeout=WAIT_MS)
        in_session = page.locator("#board tbody tr", has=page.locator(".pill.in_session"))
        in_session.first.wait_for(timeout=WAIT_MS)
        assert in_session.first.locator(".session-timer").count() >= 1
        # Keyboard alone: sort the board by Offered, twice.
        page.focus("#board button[data-key=offered]")
        page.keyboard.press("Enter")
        assert page.get_attribute("#board th:has(button[data-key=offered])", "aria-sort") == "ascending"
        page.keyboard.press("Enter")
        assert page.get_attribute("#board th:has(button[data-key=offered])", "aria-sort") == "descending"
        offered = [int(t) for t in page.locator("#board tbody tr td:nth-child(6)").all_inner_texts()]
        assert offered == sorted(offered, reverse=True)
        shot(page, "live-board-375")
        assert_accessible(page, "the live page with its board at 375 px")
        browser.close()
