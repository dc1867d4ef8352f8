"""The control center in a real browser: Playwright driving Debian's chromium.

Screenshots of each page go to SCREENSHOT_DIR (default .run/screenshots/).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from .conftest import CHROMIUM, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]


def test_staff_signs_in_filters_sorts_opens_a_mitra_and_downloads_csv(boss, live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/control-center/mitra-activity/?date_from=2026-11-10&date_to=2026-11-11")
    assert "/control-center/login/" in page.url
    shot(page, "01-login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-password-1")
    page.click("button[type=submit]")
    page.wait_for_selector("table.activity")
    assert page.inner_text("h1") == "Mitra Request Activity"
    shot(page, "02-activity")

    # Filter: only the 10th, through the form.
    page.fill("input[name=date_to]", "2026-11-10")
    page.click("text=Apply")
    page.wait_for_url("**date_to=2026-11-10**")
    ayu = page.locator("table.activity tbody tr", has_text="Display ayu")
    assert ayu.locator("td").nth(0).inner_text() == "3"  # notified (the name is the row's header)
    assert ayu.locator("td").nth(7).inner_text() == "33% (1 of 3)"  # accepted, rejected, ignored
    assert page.locator("table.activity tfoot td").first.inner_text() == "5"

    # A bad range shows the error on the form.
    page.fill("input[name=date_from]", "2026-11-12")
    page.click("text=Apply")
    page.wait_for_selector(".filters .error")
    assert "before the start date" in page.inner_text(".filters")
    shot(page, "03-activity-error")
    page.fill("input[name=date_from]", "2026-11-10")
    page.fill("input[name=date_to]", "2026-11-11")
    page.click("text=Apply")
    page.wait_for_selector("table.activity")

    # Sort by notified, ascending then descending.
    page.click("table.activity thead >> text=Notified")
    page.wait_for_url("**sort=notified**")
    ascending = [int(t) for t in page.locator("table.activity tbody tr td:nth-child(2)").all_inner_texts()]
    assert ascending == sorted(ascending)
    page.click("table.activity thead >> text=Notified")
    page.wait_for_url("**sort=-notified**")
    descending = [int(t) for t in page.locator("table.activity tbody tr td:nth-child(2)").all_inner_texts()]
    assert descending == sorted(ascending, reverse=True)
    shot(page, "04-activity-sorted")

    # The CSV download carries the same filters.
    with page.expect_download() as download:
        page.click("text=Download CSV")
    path = download.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert download.value.suggested_filename == "mitra-activity-2026-11-10-to-2026-11-11.csv"
    by_name = {r["Mitra"]: r for r in rows}
    # The 10th and 11th: ayu 3 + 2 rows, budi 2 + 1, citra 0 + 1.
    assert by_name["Display ayu"]["Notified"] == "5" and by_name["Total"]["Notified"] == "9"

    # A mitra's page.
    page.click("table.activity >> text=Display ayu")
    page.wait_for_selector("svg.chart")
    assert "Display ayu" in page.inner_text("h1")
    # One bar segment per (day, response): the 10th accepted/rejected/ignored, the 11th accepted/missed.
    assert page.locator("svg.chart rect").count() == 5
    assert page.locator("table.log tbody tr").count() == 5
    shot(page, "05-mitra")

    # Force-closes.
    page.click("text=Force-closes")
    page.wait_for_selector("h1:has-text('Force-closes')")
    assert "2 closures" in page.inner_text("main")
    flagged = page.locator("tr.flagged")
    assert flagged.count() == 1 and "over daily cap" in flagged.inner_text() and "Kasar sekali" in flagged.inner_text()
    shot(page, "06-force-closes")
    page.check("input[name=flagged]")
    page.click("text=Apply")
    page.wait_for_url("**flagged=on**")
    assert "1 closure " in page.inner_text("main")


def test_a_mitra_account_is_sent_to_sign_in(seeded, live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/control-center/login/")
    page.fill("input[name=username]", "ayu")
    page.fill("input[name=password]", "secret-pass-123")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/control-center/login/" in page.url
    assert "not a staff account" in page.inner_text("main")
    assert "Log out" not in page.inner_text("body")  # no session, no staff menu
