"""Hostile and careless query parameters on every page and API: never a 5xx, always
quickly, and a clear error where the input is refused (contract section 1, pages too)."""

from __future__ import annotations

import csv
import io
import time
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command

from appconfig.models import RuntimeConfig
from pairing.models import User
from tests.support import make_account

PAGES = [
    "/control-center/mitra-activity/",
    "/control-center/mitra-activity/?format=csv",
    "/control-center/mitra-activity/{mitra}/",
    "/control-center/force-closes/",
    "/control-center/log/",
    "/control-center/log/?format=rows",
    "/control-center/requests/",
    "/control-center/hours/",
    "/control-center/live/",
    "/admin/pairing/offer/",
    "/admin/pairing/chatrequest/",
    "/admin/pairing/device/",
    "/admin/pairing/user/",
]
APIS = [
    ("/api/control-center/mitra-activity/", "staff"),
    ("/api/mitra/chat-requests/history/", "mitra"),
    ("/api/mitra/chat-requests/pending/", "mitra"),
    ("/api/events/", "mitra"),
]
HOSTILE = [
    "date_to=9999-12-31",
    "date_from=9999-12-31",
    "date_from=0001-01-01&date_to=9999-12-30",
    "date_from=0001-01-01",
    "date_from=2026-02-30",
    "date_from=%00",
    "date_to=2026-11-01%00",
    "mitra=%00",
    "mitra=" + "&mitra=".join(str(i) for i in range(1, 3001)),
    "mitra=1%20OR%201=1",
    "mitra=7874147523319420120203264&mitra=-9027&mitra=1125899906842623",
    "sort=;DROP%20TABLE%20pairing_user;--",
    "sort=" + "x" * 5000,
    "q=%27%20OR%201=1--&o=999",
    "q=%00",
    "page=-1",
    "page=99999999999999999999999999",
    "since=-1",
    "since=1e309",
    "since=99999999999999999999999999",
    "since=%00",
    "flagged=%00&reason=%00",
    "format=%00",
    "response=%00&response=pending&response=" + "x" * 500,
    "outcome=%00",
    "delivered=maybe&seen=%00",
    "hour=99",
    "hour=1e309&hour=-1",
]
SECONDS = 3


@pytest.fixture
def staff_client(client, db):
    staff = make_account("staff")
    client.force_login(staff.user)
    return client


@pytest.mark.parametrize("query", HOSTILE)
def test_pages_never_fail_on_hostile_parameters(staff_client, seeded, query):
    for page in PAGES:
        url = page.format(mitra=seeded["ayu"].id)
        started = time.monotonic()
        response = staff_client.get(f"{url}{'&' if '?' in url else '?'}{query}")
        assert response.status_code < 500, (url, query, response.status_code)
        assert time.monotonic() - started < SECONDS, (url, query)


@pytest.mark.parametrize("query", HOSTILE)
def test_apis_never_fail_on_hostile_parameters(seeded, query):
    accounts = {"staff": make_account("staff"), "mitra": seeded["ayu"]}
    for path, role in APIS:
        started = time.monotonic()
        response = accounts[role].get(f"{path}?{query}")
        assert response.status_code < 500, (path, query, response.status_code)
        if response.status_code >= 400:
            assert set(response.json()["error"]) >= {"code", "message"}, (path, query)
        assert time.monotonic() - started < SECONDS, (path, query)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("date_to=9999-12-31", "date_to", "Choose a day between 2020-01-01 and"),
        ("date_from=0001-01-01&date_to=2026-11-01", "date_from", "Choose a day between 2020-01-01 and"),
        ("date_from=2024-01-01&date_to=2026-11-01", "date_from", "Choose at most 366 days at a time."),
        ("date_from=2021-01-01", "date_from", "Choose at most 366 days at a time."),
    ],
)
def test_out_of_range_dates_are_a_clear_error(seeded, staff_client, query, field, message):
    api = make_account("staff").get(f"/api/control-center/mitra-activity/?{query}")
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "invalid"
    assert any(text.startswith(message) for text in api.json()["error"]["fields"][field])
    page = staff_client.get(f"/control-center/mitra-activity/?{query}")
    assert page.status_code == 400 and message.encode() in page.content


def test_csv_cells_are_never_formulas_and_numbers_are_rounded(seeded, staff_client):
    hostile = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
    for index, name in enumerate(hostile):
        User.objects.filter(id=make_account("mitra", f"hostile{index}").id).update(display_name=name)
    response = staff_client.get("/control-center/mitra-activity/?format=csv")
    export = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(export, newline="")))
    names = {row["Mitra"] for row in rows}
    for name in hostile:
        assert "'" + name in names, name
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values() if cell)
    rates = [row["Acceptance"] for row in rows if row["Acceptance"]]  # a percentage with one decimal
    assert rates and all(rate.endswith("%") and len(rate[:-1].partition(".")[2]) <= 1 for rate in rates)


# --- integers: ASCII digits only (contract section 12) ------------------------------

# Each a number to Python's int() or str.isdigit(), or close to one, and none of them
# ASCII digits: superscript two, Arabic-Indic three, fullwidth one, signs, a space,
# an exponent, hex, NUL, and a number no bigint holds.
NOT_ASCII_INTEGERS = ["\u00b2", "\u0663", "\uff11", "+1", "-0", " 1", "1e3", "0x10", "\x00", "1" * 30]
API_INTEGERS = [
    ("/api/events/?since={}", "mitra", "since"),
    ("/api/control-center/mitra-activity/?mitra={}", "staff", "mitra"),
]
FORM_INTEGERS = [  # a page whose form shows the error (400), as for any other bad filter
    "/control-center/mitra-activity/?mitra={}",
    "/control-center/log/?mitra={}",
    "/control-center/log/?hour={}",
    "/control-center/requests/?mitra={}",
    "/control-center/requests/?hour={}",
    "/control-center/hours/?mitra={}",
    "/control-center/force-closes/?mitra={}",
]
PAGE_NUMBERS = [  # not a page number: the first page, as Django's paginator does for any word
    "/control-center/log/?page={}",
    "/control-center/requests/?page={}",
    "/control-center/mitra-activity/{ayu}/?page={}",
]
PATH_IDS = [  # an id in the path that is not ASCII digits matches no URL, or no object
    ("/control-center/mitra-activity/{}/", 404),
    ("/admin/pairing/user/{}/change/", 302),  # the admin's "does not exist" notice
    ("/admin/pairing/offer/{}/change/", 302),
]


@pytest.mark.parametrize("value", NOT_ASCII_INTEGERS, ids=ascii)
def test_an_integer_parameter_is_ascii_digits_or_400_invalid(seeded, value):
    accounts = {"staff": make_account("staff"), "mitra": seeded["ayu"]}
    for url, role, name in API_INTEGERS:
        response = accounts[role].get(url.format(quote(value)))
        assert response.status_code == 400, (url, value, response.status_code)
        error = response.json()["error"]
        assert error["code"] == "invalid" and name in error["fields"], (url, value, error)


@pytest.mark.parametrize("value", NOT_ASCII_INTEGERS, ids=ascii)
def test_an_integer_in_a_pages_form_is_ascii_digits_or_the_forms_error(staff_client, seeded, value):
    for url in FORM_INTEGERS:
        response = staff_client.get(url.format(quote(value), ayu=seeded["ayu"].id))
        assert response.status_code == 400, (url, value, response.status_code)
        assert b'class="error" role="alert"' in response.content, (url, value)
    for url in PAGE_NUMBERS:
        response = staff_client.get(url.format(quote(value), ayu=seeded["ayu"].id))
        assert response.status_code == 200 and response.context["page"].number == 1, (url, value)
    for url, status in PATH_IDS:
        response = staff_client.get(url.format(quote(value, safe="")))
        assert response.status_code == status, (url, value, response.status_code)
    review = staff_client.post(f"/control-center/force-closes/{quote(value, safe='')}/review/", {"note": "x"})
    assert review.status_code == 404, (value, review.status_code)


def test_ascii_digits_are_read(staff_client, seeded):
    """The same parameters with ASCII digits work: the refusals above are about the digits."""
    mitra, ayu = seeded["ayu"], seeded["ayu"].id
    assert mitra.get("/api/events/?since=0").json()["resync"] is False
    assert make_account("staff").get(f"/api/control-center/mitra-activity/?mitra={ayu}").status_code == 200
    for url in FORM_INTEGERS:
        value = "3" if "hour=" in url else str(ayu)
        assert staff_client.get(url.format(value, ayu=ayu)).status_code == 200, url
    for url in PAGE_NUMBERS:
        assert staff_client.get(url.format("1", ayu=ayu)).status_code == 200, url


@pytest.mark.parametrize("value", NOT_ASCII_INTEGERS, ids=ascii)
def test_an_integer_in_the_config_form_is_ascii_digits_or_the_forms_error(staff_client, value):
    """The admin's config form and `manage.py appconfig`, which validates as the admin does."""
    config = RuntimeConfig.load()
    url = f"/admin/appconfig/runtimeconfig/{config.pk}/change/"
    data = {
        "request_timeout_seconds": value, "push_fallback_seconds": "5", "closing_grace_seconds": "300",
        "early_end_mitra_daily_cap": "3", "alert_undelivered_wait_seconds": "15",
        "alert_expired_per_15_minutes": "3", "alert_undelivered_in_a_row": "3",
    }  # fmt: skip
    page = staff_client.post(url, data)
    assert page.status_code == 200 and b"Enter a whole number." in page.content, (value, page.status_code)
    with pytest.raises(CommandError, match=r"request_timeout_seconds: Enter a whole number\."):
        call_command("appconfig", f"request_timeout_seconds={value}")
    assert RuntimeConfig.load().request_timeout_seconds == config.request_timeout_seconds
    assert staff_client.post(url, {**data, "request_timeout_seconds": "45"}).status_code == 302
    assert RuntimeConfig.load().request_timeout_seconds == 45
