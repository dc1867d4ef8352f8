"""The control center's everyday work in chromium, at desktop and phone widths: numbers
that open their rows, a request's timeline, quick ranges, the mitra picker, force-close
review, and no page wider than the screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CHROMIUM, DESKTOP, NARROW, PHONE, assert_fits, new_page, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]
RANGE = "date_from=2026-11-10&date_to=2026-11-12"


@pytest.fixture
def pages(boss, seeded):
    """Every control-center page, with what identifies it (made before the browser starts)."""
    from pairing.models import Offer

    request_id = Offer.objects.filter(mitra=seeded["ayu"].user).first().session_id
    ayu = seeded["ayu"].id
    return {
        "activity": (f"/control-center/mitra-activity/?{RANGE}", "table.activity"),
        "mitra": (f"/control-center/mitra-activity/{ayu}/?{RANGE}", "svg.chart"),
        "log": (f"/control-center/log/?{RANGE}", "table.log"),
        "requests": (f"/control-center/requests/?{RANGE}", "table.compact"),
        "request": (f"/control-center/requests/{request_id}/", "ol.timeline"),
        "hours": (f"/control-center/hours/?{RANGE}", "svg.chart"),
        "force-closes": ("/control-center/force-closes/", "table.closures"),
    }


@pytest.mark.parametrize("width", ["desktop", "phone", "narrow"])
def test_no_page_is_wider_than_the_screen(pages, live_server, chromium, width):
    viewport = {"desktop": DESKTOP, "phone": PHONE, "narrow": NARROW}[width]
    page = new_page(chromium, viewport)
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/mitra-activity/")
    for name, (path, marker) in pages.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(marker)
        assert_fits(page, f"{name} at {width}")
        shot(page, f"fit-{width}-{name}")
    if width != "desktop":
        # The top bar keeps Log out on screen, and the chart's labels stay readable.
        box = page.locator(".logout button").bounding_box()
        assert box["x"] + box["width"] <= viewport["width"]
        page.goto(f"{live_server.url}{pages['mitra'][0]}")
        label = page.locator("svg.chart text.tick").first.bounding_box()
        assert label["height"] >= 8, label  # was ~3 px


def test_a_number_opens_its_rows_and_a_row_opens_its_timeline(pages, live_server, chromium, seeded):
    page = new_page(chromium, DESKTOP)
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/mitra-activity/")
    page.goto(f"{live_server.url}/control-center/mitra-activity/?{RANGE}")
    ayu = page.locator("table.activity tbody tr", has_text="Display ayu")
    rejected = int(ayu.locator("td").nth(2).inner_text())
    ayu.locator("td").nth(2).locator("a").click()
    page.wait_for_url("**/control-center/log/**response=rejected**")
    assert f"{rejected} row{'' if rejected == 1 else 's'}," in page.inner_text(".range")
    assert page.locator("table.log tbody tr").count() == rejected
    assert set(page.locator("table.log tbody .pill").all_inner_texts()) == {"rejected"}
    shot(page, "drill-log")
    page.locator("table.log tbody tr").first.locator("td.mono a").click()
    page.wait_for_selector("ol.timeline")
    steps = page.locator("ol.timeline li").all_inner_texts()
    assert steps[0].split()[2] == "Requested" and any("Rejected" in s and "Display ayu" in s for s in steps)
    shot(page, "request-timeline")


def test_quick_ranges_and_the_mitra_picker(boss, seeded, live_server, chromium):
    page = new_page(chromium, PHONE)
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/mitra-activity/")
    page.click("nav.quick-ranges >> text=7 days")
    page.wait_for_url("**date_from=**")
    assert page.locator("nav.quick-ranges a.current").inner_text() == "7 days"
    page.fill("input[name=date_from]", "2026-11-10")
    page.fill("input[name=date_to]", "2026-11-12")
    search = page.locator(".picker input[type=search]")
    search.fill("bud")
    page.locator(".choices li", has_text="Display budi").click()
    assert page.locator(".chips .chip").all_inner_texts() == ["Display budi \u00d7"]
    search.fill("ay")
    search.press("Enter")  # the first match
    assert len(page.locator(".chips .chip").all_inner_texts()) == 2
    page.locator(".chip", has_text="Display budi").click()  # removed again
    shot(page, "picker")
    page.click("text=Apply")
    page.wait_for_url(f"**mitra={seeded['ayu'].id}**")
    assert page.locator("table.activity tbody tr").all_inner_texts()[0].startswith("Display ayu")
    assert page.locator("table.activity tbody tr").count() == 1
    assert page.locator(".chips .chip").all_inner_texts() == ["Display ayu \u00d7"]  # kept after the reload
    assert_fits(page, "activity with a chosen mitra on a phone")


def test_staff_review_a_flagged_force_close(boss, live_server, chromium):
    page = new_page(chromium, DESKTOP)
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/force-closes/")
    flagged = page.locator("tr.flagged")
    assert flagged.count() == 1 and "over daily cap" in flagged.inner_text()
    flagged.locator("input[name=note]").fill("Called the mitra; fine")
    flagged.locator("text=Mark reviewed").click()
    page.wait_for_selector(".flash")
    assert "Marked reviewed." in page.inner_text(".flash")
    assert page.locator("tr.flagged").count() == 0
    reviewed = page.locator("table.closures tr", has_text="Called the mitra; fine")
    assert "reviewed" in reviewed.inner_text() and "by Boss" in reviewed.inner_text()
    shot(page, "force-close-reviewed")
