"""Every column reachable and every label where it belongs, at a phone's, a tablet's and a
laptop's width: a table's last column can be scrolled into view inside its card (nothing
on the way clips it), its first column stays in view meanwhile, no label reads
"[invalid name]", and every checkbox sits on the line of its own label's words."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from .conftest import CHROMIUM, WIDTHS, assert_fits, new_page, shot, sign_in
from .traffic import make_traffic

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]

# For each table in a scrolling region: what stops its last column's first cell from being
# shown by scrolling (an ancestor that overflows but does not scroll), and where the row's
# first and last cells end up once the region is scrolled to its end.
REACH = """() => Array.from(document.querySelectorAll("table")).filter(t => t.offsetParent !== null).map(table => {
    const row = table.querySelector("tbody tr");
    const cells = row ? Array.from(row.children) : [];
    if (cells.length < 2) return null;
    const first = cells[0], last = cells[cells.length - 1];
    const clippedBy = [];
    let scroller = null;
    for (let node = last.parentElement; node && node !== document.documentElement; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (node.scrollWidth > node.clientWidth + 1) {
            if (["auto", "scroll"].includes(style.overflowX)) { scroller = scroller || node; }
            else if (style.overflowX !== "visible") { clippedBy.push(node.tagName + "." + node.className); }
        }
    }
    if (scroller) scroller.scrollLeft = scroller.scrollWidth;
    const view = scroller ? scroller.getBoundingClientRect() : {left: 0, right: window.innerWidth};
    const lastBox = last.getBoundingClientRect(), firstBox = first.getBoundingClientRect();
    return {
        table: table.className || table.id, clippedBy: clippedBy,
        lastInView: lastBox.left >= view.left - 1 && lastBox.right <= Math.min(view.right, window.innerWidth) + 1,
        firstInView: firstBox.left >= view.left - 1 && firstBox.right <= view.right + 1,
        scrolls: !!scroller,
    };
}).filter(Boolean)"""

LABELS = """() => {
    const named = Array.from(document.querySelectorAll("label, legend, th, button"))
        .filter(el => el.textContent.includes("[invalid name]")).map(el => el.outerHTML.slice(0, 120));
    const misplaced = [];
    for (const box of document.querySelectorAll("input[type=checkbox]")) {
        if (box.offsetParent === null) continue;
        const label = box.closest("label") || (box.id && document.querySelector(`label[for="${box.id}"]`));
        if (!label) continue;  // named by aria-label: no words on screen to sit beside
        const words = Array.from(label.childNodes).filter(n => n.nodeType === 3 && n.textContent.trim());
        if (!words.length) { misplaced.push(label.outerHTML.slice(0, 120) + " has no words"); continue; }
        const range = document.createRange();
        range.setStartBefore(words[0]); range.setEndAfter(words[0]);
        const text = range.getClientRects()[0], tick = box.getBoundingClientRect();
        const sameLine = Math.abs((text.top + text.bottom) / 2 - (tick.top + tick.bottom) / 2) < tick.height;
        const beside = text.left - tick.right >= 0 && text.left - tick.right < 24;
        const where = `box ${JSON.stringify(tick)} words ${JSON.stringify(text)}`;
        if (!(sameLine && beside)) misplaced.push(`${label.textContent.trim()}: ${where}`);
    }
    return {named: named, misplaced: misplaced};
}"""


@pytest.fixture
def list_pages(boss, seeded):
    make_traffic(seeded, boss)
    return {
        "activity": ("/control-center/mitra-activity/", "table.activity"),
        "mitra": (f"/control-center/mitra-activity/{seeded['ayu'].id}/", "table.log"),
        "log": ("/control-center/log/", "table.log"),
        "requests": ("/control-center/requests/", "table.requests"),
        "hours": ("/control-center/hours/", "table.hours"),
        "force-closes": ("/control-center/force-closes/", "table.closures"),
        "live": ("/control-center/live/", "#pending tr[data-request]"),
    }


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_column_can_be_brought_into_view(list_pages, live_server, chromium, width):
    page = new_page(chromium, WIDTHS[width])
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/live/")
    problems = []
    for name, (path, marker) in list_pages.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(marker)
        assert_fits(page, f"{name} at {width}")
        menu = page.evaluate("(n => [n.scrollWidth, n.clientWidth])(document.querySelector('.topbar nav'))")
        if menu[0] > menu[1] + 1:
            problems.append(f"{name} at {width} px: the top bar's menu is cut ({menu[0]} > {menu[1]} px)")
        for table in page.evaluate(REACH):
            where = f"{name} at {width} px, table {table['table']}"
            if table["clippedBy"]:
                problems.append(f"{where}: clipped by {table['clippedBy']}")
            if not table["lastInView"]:
                problems.append(f"{where}: the last column cannot be scrolled into view")
            if table["scrolls"] and not table["firstInView"]:
                problems.append(f"{where}: the first column leaves the view when scrolled")
        shot(page, f"columns-{width}-{name}-scrolled")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_labels_read_right_and_checkboxes_sit_beside_their_words(list_pages, live_server, chromium, width):
    page = new_page(chromium, WIDTHS[width])
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/live/")
    for name, (path, marker) in list_pages.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(marker)
        found = page.evaluate(LABELS)
        assert not found["named"], (name, width, found["named"])
        assert not found["misplaced"], (name, width, found["misplaced"])
    page.goto(f"{live_server.url}/control-center/log/?response=accepted&response=pending")
    ticked = page.locator("fieldset label.check", has=page.locator("input:checked")).all_inner_texts()
    assert [t.strip() for t in ticked] == ["Accepted", "Pending (no answer yet)"]


LABEL_BOXES = """() => Array.from(document.querySelectorAll("svg.chart text.tick[text-anchor=middle]"))
    .filter(t => getComputedStyle(t).display !== "none")
    .map(t => { const b = t.getBoundingClientRect(); return {text: t.textContent, left: b.left, right: b.right}; })"""


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_chart_labels_do_not_run_into_each_other(list_pages, seeded, live_server, chromium, width):
    page = new_page(chromium, WIDTHS[width])
    sign_in(page, live_server.url, "boss", "boss-password-1", "/control-center/live/")
    for path in (f"/control-center/mitra-activity/{seeded['ayu'].id}/", "/control-center/hours/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector("svg.chart")
        boxes = sorted(page.evaluate(LABEL_BOXES), key=lambda b: b["left"])
        assert len(boxes) >= 4, (path, boxes)
        for before, after in pairwise(boxes):
            assert before["right"] + 2 <= after["left"], (path, width, before, after)  # a gap, not "11 Nov15 Nov"
