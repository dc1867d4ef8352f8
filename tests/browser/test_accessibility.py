"""Accessibility: axe-core's WCAG 2.1 A and AA rules over every staff page at a phone's,
a tablet's and a laptop's width, with realistic data on them; a serious or critical
violation fails with its rule and element."""

from __future__ import annotations

from pathlib import Path

import pytest

from .axe import assert_accessible, describe, violations
from .conftest import CHROMIUM, WIDTHS, new_page, shot, sign_in
from .traffic import make_traffic

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]


@pytest.fixture
def staff_pages(boss, seeded):
    """Every staff page, each with an element that says it has rendered (made before the browser starts)."""
    made = make_traffic(seeded, boss)
    ayu = seeded["ayu"].id
    return {
        "live": ("/control-center/live/", "#pending tr[data-request]"),
        "activity": ("/control-center/mitra-activity/", "table.activity"),
        "activity-error": (
            "/control-center/mitra-activity/?date_from=2026-11-12&date_to=2026-11-10",
            ".filters .error",
        ),
        "mitra": (f"/control-center/mitra-activity/{ayu}/", "svg.chart"),
        "log": ("/control-center/log/", "table.log"),
        "log-error": ("/control-center/log/?hour=25&delivered=maybe", ".filters .error"),
        "requests": ("/control-center/requests/", "table.requests"),
        "request-pending": (f"/control-center/requests/{made['pending']}/", "ol.timeline"),
        "request-closed": (f"/control-center/requests/{made['closed']}/", "ol.timeline"),
        "hours": ("/control-center/hours/", "svg.chart"),
        "force-closes": ("/control-center/force-closes/", "table.closures"),
        "search": ("/control-center/search/?q=Display", "h1"),
        "short-id": ("/control-center/requests/0000/", "h1"),
        "not-found": ("/control-center/no-such-page/", "h1"),
        "admin": ("/admin/", "#content"),
    }


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_no_serious_violation_on_any_staff_page(staff_pages, live_server, chromium, width):
    page = new_page(chromium, WIDTHS[width])
    page.goto(f"{live_server.url}/control-center/login/?next=/control-center/&username=")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert_accessible(page, f"the sign-in form with an error at {width} px")
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/live/")
    failures = []
    for name, (path, marker) in staff_pages.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(marker)
        shot(page, f"a11y-{width}-{name}")
        found = violations(page)
        if found:
            failures.append(f"{name} ({path}) at {width} px:\n{describe(found)}")
    assert not failures, "axe-core found serious or critical violations on\n" + "\n".join(failures)
