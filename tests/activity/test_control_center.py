"""The control center's numbers: page, CSV and JSON agree with each other and with the
definitions of contract section 10, across day boundaries in two time zones."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from pairing.models import ChatRequest, Offer, SessionClosure
from tests.support import JKT, SEED, at, make_account, requires_postgres, run_together

API = "/api/control-center/mitra-activity/"
PAGE = "/control-center/mitra-activity/"


def expected(rows, include) -> dict:
    """Section 10's definitions, computed from the seed list directly."""
    out = {}
    for name in include:
        mine = [r for r in rows if r[0] == name]
        count = {
            k: sum(1 for r in mine if r[2] == k) for k in ("accepted", "rejected", "ignored", "missed", "cancelled")
        }
        base = count["accepted"] + count["rejected"] + count["ignored"]
        times = [r[3] for r in mine if r[2] in ("accepted", "rejected")]
        out[name] = {
            "notified": len(mine),
            **count,
            "pending": sum(1 for r in mine if r[2] is None),
            "acceptance_rate": count["accepted"] / base if base else None,
            "avg_response_seconds": sum(times) / len(times) if times else None,
            "avg_active_session_count": sum(r[4] for r in mine) / len(mine) if mine else None,
        }
    return out


def in_range(day_from: str, day_to: str, tz=JKT):
    start = at(f"{day_from} 00:00", tz)
    end = at(f"{day_to} 00:00", tz) + timedelta(days=1)
    return [r for r in SEED if start <= at(r[1]) < end]


class TableParser(HTMLParser):
    """The activity table's body and footer rows as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self._in_table = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", "activity") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def page_rows(content: bytes) -> dict[str, list[str]]:
    parser = TableParser()
    parser.feed(content.decode())
    return {row[0]: row for row in parser.rows[1:]}  # skip the header row


HEADERS = ["Mitra", "Notified", "Accepted", "Rejected", "Ignored", "Missed", "Cancelled", "Pending", "Acceptance",
           "Delivered", "Response rate", "Acceptance (delivered)", "Avg response (s)", "Avg active sessions",
           "Early ends"]  # fmt: skip


def read_csv(response) -> list[dict]:
    """A CSV download's rows (the files start with a byte order mark, for spreadsheets)."""
    assert response["Content-Type"].startswith("text/csv"), response["Content-Type"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"), newline="")))


def same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


@pytest.mark.parametrize(
    ("tz", "day_from", "day_to"),
    [
        ("Asia/Jakarta", "2026-11-10", "2026-11-11"),
        ("Asia/Jakarta", "2026-11-10", "2026-11-10"),
        ("UTC", "2026-11-10", "2026-11-10"),
    ],
)
def test_page_csv_and_json_agree_with_the_definitions(seeded, staff, client, tz, day_from, day_to):
    with override_settings(TIME_ZONE=tz):
        query = f"date_from={day_from}&date_to={day_to}"
        api = staff.get(f"{API}?{query}").json()
        client.force_login(staff.user)
        page = client.get(f"{PAGE}?{query}")
        csv_rows = read_csv(client.get(f"{PAGE}?{query}&format=csv"))

    rows = in_range(day_from, day_to, ZoneInfo(tz))
    want = expected(rows, ["ayu", "budi", "citra", "dewi"])
    got = {r["display_name"].removeprefix("Display "): r for r in api["results"]}
    assert set(got) == set(want)  # every mitra, idle ones included
    html = page_rows(page.content)
    assert list(csv_rows[0]) == HEADERS  # the page's headers, in the page's order
    by_csv = {r["Mitra"].removeprefix("Display "): r for r in csv_rows if r["Mitra"] != "Total"}
    for name, figures in want.items():
        for key, value in figures.items():
            assert same(got[name][key], value), (name, key, got[name][key], value)
        row = by_csv[name]
        for key in ("notified", "accepted", "rejected", "ignored", "missed", "cancelled", "pending"):
            assert row[key.capitalize()] == str(figures[key]), (name, key, row)
        rate = figures["acceptance_rate"]  # a percentage, as on the page
        assert row["Acceptance"] == ("" if rate is None else f"{100 * rate:.1f}%"), (name, row["Acceptance"])
        seconds = figures["avg_response_seconds"]
        assert row["Avg response (s)"] == ("" if seconds is None else str(round(seconds, 1))), (name, row)
        cells = html[f"Display {name}"]
        assert cells[1:8] == [
            str(figures[k]) for k in ("notified", "accepted", "rejected", "ignored", "missed", "cancelled", "pending")
        ]
        base = figures["accepted"] + figures["rejected"] + figures["ignored"]
        rate = f"{100 * figures['accepted'] / base:.0f}% ({figures['accepted']} of {base})" if base else "— (0)"
        assert cells[8] == rate
    totals = expected([("all", *r[1:]) for r in rows], ["all"])["all"]
    for key, value in totals.items():
        assert same(api["totals"][key], value), (key, api["totals"][key], value)
    total_cells = html["Total"]
    assert total_cells[1] == str(totals["notified"])


def test_the_day_boundary_follows_the_time_zone(seeded, staff):
    jakarta = staff.get(f"{API}?date_from=2026-11-10&date_to=2026-11-10").json()
    with override_settings(TIME_ZONE="UTC"):
        utc = staff.get(f"{API}?date_from=2026-11-10&date_to=2026-11-10").json()
    ayu_jkt = next(r for r in jakarta["results"] if r["display_name"] == "Display ayu")
    ayu_utc = next(r for r in utc["results"] if r["display_name"] == "Display ayu")
    # 23:30 and 00:30 Jakarta are both on the 10th in UTC; only the first in Jakarta.
    assert (ayu_jkt["notified"], ayu_utc["notified"]) == (3, 4)


def test_mitra_filter_sort_and_errors(seeded, staff, client):
    ids = {name: account.id for name, account in seeded.items()}
    data = staff.get(f"{API}?date_from=2026-11-10&date_to=2026-11-12&mitra={ids['ayu']}&mitra={ids['citra']}").json()
    assert sorted(r["mitra_id"] for r in data["results"]) == sorted([ids["ayu"], ids["citra"]])
    assert data["totals"]["notified"] == 6
    by_rate = staff.get(f"{API}?date_from=2026-11-10&date_to=2026-11-12&sort=-acceptance_rate").json()["results"]
    rates = [r["acceptance_rate"] for r in by_rate]
    assert (
        rates[:3] == sorted([r for r in rates if r is not None], reverse=True) and rates[-1] is None
    )  # no sample last
    by_name = staff.get(f"{API}?sort=display_name").json()["results"]
    assert [r["display_name"] for r in by_name] == sorted(r["display_name"] for r in by_name)

    for query, field in [
        ("date_from=2026-13-01", "date_from"),
        ("date_from=yesterday", "date_from"),
        ("date_from=2026-11-12&date_to=2026-11-10", "date_to"),
        ("mitra=999999", "mitra"),
        ("mitra=abc", "mitra"),
        ("sort=password", "sort"),
    ]:
        response = staff.get(f"{API}?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid"
        assert field in response.json()["error"]["fields"], query
        client.force_login(staff.user)
        page = client.get(f"{PAGE}?{query}")
        assert page.status_code == 400 and b'class="error"' in page.content
        assert client.get(f"{PAGE}?{query}&format=csv").status_code == 400
    customer = make_account("customer")
    assert customer.get(API).status_code == 403


def test_only_staff_see_the_control_center(seeded, client):
    assert client.get(PAGE).status_code == 302
    assert client.get(PAGE)["Location"].startswith("/control-center/login/")
    mitra = seeded["ayu"]
    client.force_login(mitra.user)
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/control-center/login/")
    assert client.get(f"/control-center/mitra-activity/{mitra.id}/").status_code == 302


def test_mitra_page_has_figures_chart_buckets_and_paginated_log(seeded, staff, client):
    client.force_login(staff.user)
    ayu = seeded["ayu"]
    page = client.get(f"/control-center/mitra-activity/{ayu.id}/?date_from=2026-11-10&date_to=2026-11-11")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<rect") == 5  # one bar segment per non-zero (day, response) pair
    assert "10 Nov: 1 accepted" in html and "11 Nov: 1 missed" in html
    # Buckets by active sessions: one row each for 0, 1, 2 and 3+.
    bucket_rows = re.findall(r"<tr><td>(0|1|2|3\+)</td><td class=\"num\">(\d+)</td>", html)
    assert bucket_rows == [("0", "2"), ("1", "1"), ("2", "1"), ("3+", "1")]
    log_times = re.findall(r"<tr><td>(2026-11-\d\d \d\d:\d\d:\d\d)</td>", html)
    assert log_times == sorted(log_times, reverse=True) and len(log_times) == 5
    assert client.get("/control-center/mitra-activity/999999/").status_code == 404


def test_log_is_paginated(seeded, staff, client):
    ayu = seeded["ayu"]
    customer = make_account("customer")
    base = at("2026-11-05 08:00")
    for i in range(60):
        session = ChatRequest.objects.create(
            customer=customer.user, duration_minutes=5, status="expired",
            requested_at=base + timedelta(minutes=i), expires_at=base + timedelta(minutes=i, seconds=60),
        )  # fmt: skip
        Offer.objects.create(
            session=session, mitra=ayu.user, notified_at=base + timedelta(minutes=i), active_session_count=0,
            response="ignored",
        )  # fmt: skip
    client.force_login(staff.user)
    url = f"/control-center/mitra-activity/{ayu.id}/?date_from=2026-11-05&date_to=2026-11-05"
    first, second = client.get(url).content.decode(), client.get(f"{url}&page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert "2026-11-05 08:59:00" in first and "2026-11-05 08:00:00" in second


def test_broadcast_health(seeded, staff, client):
    client.force_login(staff.user)
    customer = make_account("customer")
    base = at("2026-11-10 09:00")
    for i, (status, wait) in enumerate([("active", 2.0), ("closed", 4.0), ("cancelled", None), ("expired", None)]):
        requested = base + timedelta(hours=i)
        session = ChatRequest.objects.create(
            customer=customer.user, mitra=seeded["dewi"].user if wait else None, duration_minutes=5, status=status,
            requested_at=requested, expires_at=requested + timedelta(seconds=60),
            accepted_at=requested + timedelta(seconds=wait) if wait else None,
        )  # fmt: skip
        if wait:
            Offer.objects.create(
                session=session, mitra=seeded["dewi"].user, notified_at=session.requested_at,
                active_session_count=0, response="accepted", response_time_seconds=wait,
            )  # fmt: skip
    html = client.get(f"{PAGE}?date_from=2026-11-10&date_to=2026-11-10").content.decode()
    health = re.sub(
        r"\s+", " ", html[html.index("Broadcast health") : html.index("</section>", html.index("Broadcast health"))]
    )
    # 5 seeded requests on the 10th in Jakarta (ayu 09:00, 12:00, 23:30; budi 10:00, 23:59; all
    # stored as expired) + these 4. Request to first accept: 2.0 and 4.0 s (dewi's two sessions).
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", health))
    assert "Requests 9 " in text
    assert "Accepted 2 22%" in text and "Cancelled 1 11%" in text and "Expired 6 67%" in text
    assert "Pending 0 " in text  # the four outcomes add up to the requests
    assert "median 3.0 s · p90 3.8 s" in health  # percentile_cont: 2 + 0.9 * (4 - 2)
    # Each number links to the requests behind it, and that list holds exactly them.
    links = dict(re.findall(r'<dt>(\w+)</dt><dd><a href="([^"]+)">', health))
    for outcome, count in (("Requests", 9), ("Accepted", 2), ("Cancelled", 1), ("Expired", 6)):
        listed = client.get(links[outcome].replace("&amp;", "&")).content.decode()
        assert f"· {count} request{'' if count == 1 else 's'}" in listed, outcome


def test_force_closes_page_and_early_end_rate(seeded, staff, client):
    client.force_login(staff.user)
    ayu, budi = seeded["ayu"], seeded["budi"]
    customer = make_account("customer")
    when = at("2026-11-10 10:00")
    for i, (mitra, reason, flagged, early) in enumerate(
        [
            (ayu, "customer_abusive", False, True),
            (ayu, "other", True, True),
            (ayu, None, False, False),
            (budi, "customer_left", False, True),
        ]
    ):
        session = ChatRequest.objects.create(
            customer=customer.user, mitra=mitra.user, duration_minutes=5, status="closing",
            requested_at=when, expires_at=when, accepted_at=when + timedelta(minutes=i),
        )  # fmt: skip
        if early:
            SessionClosure.objects.create(
                session=session, initiated_by="mitra", initiator=mitra.user, reason_code=reason,
                reason_note="rude" if reason == "other" else "", needs_review=flagged,
                created_at=when + timedelta(minutes=i),
            )  # fmt: skip
    api = staff.get(f"{API}?date_from=2026-11-10&date_to=2026-11-10").json()
    ayu_row = next(r for r in api["results"] if r["mitra_id"] == ayu.id)
    assert (ayu_row["early_ends"], ayu_row["accepted_sessions"]) == (2, 3)
    assert ayu_row["early_end_rate"] == pytest.approx(2 / 3)

    url = "/control-center/force-closes/?date_from=2026-11-10&date_to=2026-11-10"
    html = client.get(url).content.decode()
    assert "3 closures" in html and "over daily cap" in html
    flagged = client.get(f"{url}&flagged=on").content.decode()
    assert "1 closure " in flagged and "rude" in flagged
    only_budi = client.get(f"{url}&mitra={budi.id}").content.decode()
    assert "1 closure " in only_budi and "Customer left" in only_budi  # staff pages name reasons in English
    abusive = client.get(f"{url}&reason=customer_abusive").content.decode()
    assert "1 closure " in abusive
    assert client.get("/control-center/force-closes/?date_from=nope").status_code == 400


@requires_postgres
def test_two_beats_rolling_up_at_once_roll_up_each_day_once(transactional_db, seeded):
    from activity.models import MitraDailyActivity
    from activity.services import roll_up_final_days

    now = at("2026-11-13 12:00")
    first, second = run_together(lambda: roll_up_final_days(now=now), lambda: roll_up_final_days(now=now))
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == [at("2026-11-09 00:00").date() + timedelta(days=i) for i in range(4)]
    per_day = Counter(MitraDailyActivity.objects.values_list("day", "mitra_id"))
    assert per_day and set(per_day.values()) == {1}


def test_rollups_give_the_same_numbers_as_the_live_log(seeded, staff):
    from activity.models import MitraDailyActivity, RolledUpDay
    from activity.services import roll_up_final_days

    queries = ["date_from=2026-11-09&date_to=2026-11-12", "date_from=2026-11-10&date_to=2026-11-10"]
    live = [staff.get(f"{API}?{q}").json() for q in queries]
    rolled = roll_up_final_days(now=at("2026-11-13 12:00"))
    assert rolled == [at("2026-11-09 00:00").date() + timedelta(days=i) for i in range(4)]
    assert MitraDailyActivity.objects.filter(day=at("2026-11-10 00:00").date()).count() == 2  # ayu, budi
    assert [staff.get(f"{API}?{q}").json() for q in queries] == live
    # Idempotent; a day that has not ended long enough ago is not rolled up.
    assert roll_up_final_days(now=at("2026-11-13 12:00")) == []
    assert not RolledUpDay.objects.filter(day=at("2026-11-13 00:00").date()).exists()
    # Rollups belong to a time zone: under another one the log is read live, and still right.
    with override_settings(TIME_ZONE="UTC"):
        utc = staff.get(f"{API}?date_from=2026-11-10&date_to=2026-11-10").json()
    ayu = next(r for r in utc["results"] if r["display_name"] == "Display ayu")
    assert ayu["notified"] == 4


def test_a_day_with_unanswered_rows_is_not_rolled_up(seeded):
    from activity.models import RolledUpDay
    from activity.services import roll_up_final_days

    Offer.objects.filter(notified_at=at("2026-11-11 11:00")).update(response=None)
    roll_up_final_days(now=at("2026-11-13 12:00"))
    days = set(RolledUpDay.objects.values_list("day", flat=True))
    assert at("2026-11-11 00:00").date() not in days and at("2026-11-10 00:00").date() in days


def test_an_empty_force_closes_range_says_so(db, staff, client):
    client.force_login(staff.user)
    html = client.get("/control-center/force-closes/?date_from=2026-01-01&date_to=2026-01-02").content.decode()
    assert "0 closures" in html and "No force-closes in this range." in html


def test_chart_ticks_sit_at_their_values():
    from datetime import date

    from activity.charts import daily_stacked_bars

    day = {"day": date(2026, 11, 10), "accepted": 1, "rejected": 1, "ignored": 1, "missed": 0, "cancelled": 2}
    chart = daily_stacked_bars([day])
    baseline, top = chart["baseline"], chart["ticks"][-1]["y"]
    assert [t["value"] for t in chart["ticks"]] == [0, 2, 4, 6]  # whole, even steps above the peak of 5
    for tick in chart["ticks"]:
        assert tick["y"] == pytest.approx(baseline - (baseline - top) * tick["value"] / 6)
    assert sum(bar.height for bar in chart["bars"]) == pytest.approx((baseline - top) * 5 / 6)  # cancelled drawn
    assert any("2 cancelled" in bar.title for bar in chart["bars"])


def test_date_inputs_show_the_range_in_force_and_quick_ranges_set_it(seeded, staff, client):
    from django.utils import timezone

    client.force_login(staff.user)
    today = timezone.localdate()
    for path in (PAGE, f"{PAGE}{seeded['ayu'].id}/", "/control-center/force-closes/"):
        html = client.get(path).content.decode()
        assert f'name="date_from" value="{today - timedelta(days=29)}"' in html, path
        assert f'name="date_to" value="{today}"' in html, path
        links = dict(re.findall(r'<a href="\?([^"]+)"[^>]*>(Today|7 days|30 days)</a>', html))
        assert set(links.values()) == {"Today", "7 days", "30 days"}, path
        assert re.search(r'class="current" aria-current="true">30 days<', html), path  # the default is 30 days
    week = next(
        q
        for q, label in re.findall(
            r'<a href="\?([^"]+)"[^>]*>(7 days)</a>', client.get(f"{PAGE}?mitra={seeded['ayu'].id}").content.decode()
        )
    )
    page = client.get(f"{PAGE}?{week.replace('&amp;', '&')}").content.decode()
    assert f'name="date_from" value="{today - timedelta(days=6)}"' in page
    assert f'<option value="{seeded["ayu"].id}" selected>' in page  # the other filters are kept


def test_the_log_rows_behind_the_figures_download_as_csv_and_link_to_their_request(seeded, staff, client):
    client.force_login(staff.user)
    query = "date_from=2026-11-09&date_to=2026-11-12"
    rows = read_csv(client.get(f"{PAGE}?{query}&format=rows"))
    in_db = Offer.objects.filter(notified_at__gte=at("2026-11-09 00:00"), notified_at__lt=at("2026-11-13 00:00"))
    assert len(rows) == in_db.count() > 0
    assert {r["Request"] for r in rows} == {str(s) for s in in_db.values_list("session_id", flat=True)}
    ayu = seeded["ayu"]
    ayu_rows = read_csv(client.get(f"{PAGE}{ayu.id}/?{query}&format=rows"))
    assert len(ayu_rows) == in_db.filter(mitra=ayu.user).count()
    assert "Mitra" not in ayu_rows[0]  # as on the mitra's page, whose log has no Mitra column
    mine = {str(s) for s in in_db.filter(mitra=ayu.user).values_list("session_id", flat=True)}
    assert {r["Request"] for r in ayu_rows} == mine
    page = client.get(f"{PAGE}{ayu.id}/?{query}").content.decode()
    first = in_db.filter(mitra=ayu.user).order_by("-notified_at").first()
    assert f'href="/control-center/requests/{first.session_id}/" title="{first.session_id}"' in page


@pytest.mark.parametrize("name", ["date_from", "date_to", "sort"])
def test_the_api_refuses_a_blank_parameter_the_page_tolerates(seeded, staff, client, name):
    """The schema has no "" for these (schemathesis sent `sort=`); the page's own form sends blanks."""
    body = staff.get(API, data={name: ""})
    assert body.status_code == 400
    assert body.json()["error"]["code"] == "invalid" and list(body.json()["error"]["fields"]) == [name]
    client.force_login(staff.user)
    assert client.get(PAGE, {name: ""}).status_code == 200
