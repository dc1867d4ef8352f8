"""Shared browser fixtures: Playwright driving Debian's chromium, and screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pairing.accounts.services import create_or_update_account

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / ".run" / "screenshots"))
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}
# The widths every page is checked at: a phone, a tablet, a laptop.
WIDTHS = {
    "375": {"width": 375, "height": 812},
    "768": {"width": 768, "height": 1024},
    "1366": {"width": 1366, "height": 900},
}


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
              "--disable-background-networking", "--disable-component-update"],
    )  # fmt: skip


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def assert_fits(page, what: str) -> None:
    """No page wider than its viewport: tables scroll inside their cards."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (what, widths)


def sign_in(page, base_url: str, username: str, password: str, then: str) -> None:
    page.goto(f"{base_url}/control-center/login/?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{then.split('?')[0]}**")


@pytest.fixture
def boss(seeded):
    """A staff account and two force-closes, made before the browser starts: Playwright's
    sync API runs an event loop in this thread, and Django refuses database calls from one."""
    from datetime import timedelta

    from django.utils import timezone

    from pairing.models import ChatRequest, SessionClosure, User

    customer = User.objects.filter(role="customer").first()
    now = timezone.now()
    for minutes, (reason, note, flagged) in enumerate(
        [("customer_abusive", "", False), ("other", "Kasar sekali", True)]
    ):
        session = ChatRequest.objects.create(
            customer=customer, mitra=seeded["ayu"].user, duration_minutes=30, status="closing",
            requested_at=now, expires_at=now, accepted_at=now - timedelta(minutes=10 - minutes),
        )  # fmt: skip
        SessionClosure.objects.create(
            session=session, initiated_by="mitra", initiator=seeded["ayu"].user, reason_code=reason,
            reason_note=note, needs_review=flagged, created_at=now - timedelta(minutes=5 - minutes),
        )  # fmt: skip
    return create_or_update_account(username="boss", role="staff", password="boss-password-1", display_name="Boss")[0]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()


@pytest.fixture
def chromium():
    """The browser itself, for tests that open pages at several widths."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def new_page(browser, viewport: dict):
    page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
    page.set_default_timeout(10_000)
    return page
