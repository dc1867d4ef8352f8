"""The live operations page on the real stack (daphnes, Celery worker and beat, Redis), in
chromium at desktop and phone widths: it updates by itself when a request is created,
accepted and expires, and when a mitra comes online."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.sync.client import connect

from devtools.stack import DEMO_PASSWORD, Stack
from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE, assert_fits, launch, new_page, shot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def stack():
    with Stack() as running:
        running.manage("appconfig", "request_timeout_seconds=4")
        yield running


@pytest.mark.parametrize(
    ("width", "viewport", "customer_name", "mitra_name", "display_name"),
    [("desktop", DESKTOP, "customer1", "mitra1", "Bestie Ayu"), ("phone", PHONE, "customer2", "mitra2", "Bestie Budi")],
)
def test_live_page_follows_requests_and_mitras_without_a_reload(
    stack, width, viewport, customer_name, mitra_name, display_name
):
    from playwright.sync_api import sync_playwright

    customer = stack.client(stack.login(customer_name))
    mitra_token = stack.login(mitra_name)
    mitra = stack.client(mitra_token)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = new_page(browser, viewport)
        sign_in(page, stack.url, "staff", DEMO_PASSWORD, "/control-center/live/")
        page.wait_for_selector("#live-status.live")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
        offline_before = int(page.inner_text("#count-offline"))

        with connect(f"{stack.ws_url}/ws/mitra/?token={mitra_token}") as app:
            app.recv(timeout=10)  # hello
            page.wait_for_selector(f"#group-available li:has-text('{display_name}')", timeout=WAIT_MS)
            assert int(page.inner_text("#count-offline")) == offline_before - 1

            created = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 15})
            session_id = created.json()["session_id"]
            row = page.locator(f"#pending tr[data-request='{session_id}']")
            row.wait_for(timeout=WAIT_MS)
            assert row.locator("td").nth(4).inner_text() != "0"  # offered
            assert row.locator(".countdown").inner_text().endswith(" s")
            box = row.locator(".countdown").bounding_box()
            assert box["x"] + box["width"] <= viewport["width"]  # the countdown is on screen, even on a phone
            assert_fits(page, f"live at {width}")
            shot(page, f"live-{width}-waiting")

            assert mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200
            row.wait_for(state="detached", timeout=WAIT_MS)
            page.wait_for_selector(f"#group-in_session li:has-text('{display_name}')", timeout=WAIT_MS)
            assert display_name not in page.inner_text("#group-available")
            shot(page, f"live-{width}-accepted")
        expired_before = int(page.inner_text("#today-expired"))
        waiting = customer.post("/api/customer/chat-requests/", json={"duration_minutes": 15}).json()["session_id"]
        page.locator(f"#pending tr[data-request='{waiting}']").wait_for(timeout=WAIT_MS)
        page.locator(f"#pending tr[data-request='{waiting}']").wait_for(state="detached", timeout=WAIT_MS)
        page.wait_for_function(f"Number(document.getElementById('today-expired').textContent) > {expired_before}",
                               timeout=WAIT_MS)  # fmt: skip
        assert page.evaluate("window.loadedOnce") is True  # all of it without a reload
        shot(page, f"live-{width}-expired")
        browser.close()
