"""Dashboard benchmark on PostgreSQL: 1,000,000 log rows over 90 days, 500 mitras.

Prints the Mitra Request Activity page's server time (p50, p95) for 7-, 30- and 90-day
ranges (all mitras), and for 30 days one mitra, a mitra's page, the log rows behind a
number and the hourly view, each beside the bare SQL aggregate of the same range's rows
measured in the same run, with the ratio; and the live page. Final days are rolled up
first, as the beat task does. Target (issue 11): the 30-day page at most 1.3 times the bare SQL.

It uses a database of its own on the PostgreSQL server named by DATABASE_URL (default:
postgres://postgres@127.0.0.1:5432/): DATABASE_URL's name with `_bench` added
(`halobestie_bench` for `…/halobestie` or no name), so two checkouts on one server keep
their data apart. The rows are generated once per `--rows` and kept for the next run;
`--rows 3000` is the few-seconds form CI runs.
"""

from __future__ import annotations

import os
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

BENCH_DB_SUFFIX = "_bench"
MITRAS = 500
DAYS = 90
PER_REQUEST = 8
RUNS = 30
RANGES = (7, 30, 90)
TARGET_RATIO = 1.3  # the 30-day page against the bare aggregate of its rows (issue 11)


def _database_url() -> str:
    given = os.environ.get("DATABASE_URL", "")
    if not given.startswith(("postgres://", "postgresql://")):
        given = "postgres://postgres@127.0.0.1:5432/postgres"
    name = urlsplit(given).path.strip("/")
    base = name if name and name != "postgres" else "halobestie"
    return urlunsplit(urlsplit(given)._replace(path=f"/{base}{BENCH_DB_SUFFIX}"))


def _ensure_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.strip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# Statements end with ";" and a newline: each is executed alone (see _generate).
GENERATE = """
INSERT INTO pairing_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                          date_joined, role, display_name)
SELECT '!', false, 'bench-mitra-' || g, '', '', '', false, true, now(), 'mitra', 'Bestie ' || g
  FROM generate_series(1, %(mitras)s) g;
INSERT INTO pairing_mitraprofile (user_id, is_available) SELECT id, true FROM pairing_user WHERE role = 'mitra';
INSERT INTO pairing_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                          date_joined, role, display_name)
VALUES ('!', false, 'bench-customer', '', '', '', false, true, now(), 'customer', 'Bench customer');

CREATE TEMP TABLE bench_mitras AS
  SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM pairing_user WHERE role = 'mitra';

-- One request every DAYS*86400/requests seconds, up to now.
CREATE TEMP TABLE bench_requests AS
  SELECT g AS rn, gen_random_uuid() AS id,
         now() - (g * (%(days)s * 86400.0 / %(requests)s)) * interval '1 second' AS requested_at,
         random() AS luck
    FROM generate_series(1, %(requests)s) g;

INSERT INTO chat_sessions (id, customer_id, mitra_id, status, expire_reason, duration_minutes, requested_at,
                           expires_at, accepted_at, ends_at)
SELECT r.id, (SELECT id FROM pairing_user WHERE username = 'bench-customer'),
       CASE WHEN r.luck < 0.6 THEN m.id END,
       CASE WHEN r.luck < 0.6 THEN 'closed' WHEN r.luck < 0.7 THEN 'cancelled' ELSE 'expired' END,
       CASE WHEN r.luck >= 0.7 THEN 'timeout' END,
       30, r.requested_at, r.requested_at + interval '60 seconds',
       CASE WHEN r.luck < 0.6 THEN r.requested_at + (1 + r.luck * 20) * interval '1 second' END,
       CASE WHEN r.luck < 0.6 THEN r.requested_at + interval '30 minutes' END
  FROM bench_requests r
  JOIN bench_mitras m ON m.idx = (r.rn * 37) %% %(mitras)s;

INSERT INTO chat_request_notifications (session_id, mitra_id, notified_at, active_session_count, response,
                                        responded_at, response_time_seconds, resolved_at)
SELECT r.id, m.id, r.requested_at, (k + r.rn) %% 4,
       resp.response,
       CASE WHEN resp.response IN ('accepted', 'rejected') THEN r.requested_at + resp.secs * interval '1 second' END,
       CASE WHEN resp.response IN ('accepted', 'rejected') THEN resp.secs END,
       r.requested_at + interval '60 seconds'
  FROM bench_requests r
  CROSS JOIN generate_series(0, %(per_request)s - 1) k
  JOIN bench_mitras m ON m.idx = ((r.rn * 37) + k * 61) %% %(mitras)s
  CROSS JOIN LATERAL (
    SELECT CASE
             WHEN k = 0 AND r.luck < 0.6 THEN 'accepted'
             WHEN r.luck >= 0.6 AND r.luck < 0.7 THEN (CASE WHEN k %% 3 = 0 THEN 'rejected' ELSE 'cancelled' END)
             WHEN r.luck >= 0.7 THEN (CASE WHEN k %% 4 = 0 THEN 'rejected' ELSE 'ignored' END)
             WHEN k %% 5 = 1 THEN 'rejected'
             ELSE 'missed'
           END AS response,
           1 + ((r.rn * 13 + k * 7) %% 300) / 10.0 AS secs
  ) resp;
ANALYZE;
"""

BARE_SQL = """
SELECT mitra_id, count(*),
       count(*) FILTER (WHERE response = 'accepted'), count(*) FILTER (WHERE response = 'rejected'),
       count(*) FILTER (WHERE response = 'ignored'), count(*) FILTER (WHERE response = 'missed'),
       count(*) FILTER (WHERE response = 'cancelled'),
       sum(response_time_seconds) FILTER (WHERE response IN ('accepted', 'rejected')),
       sum(active_session_count)
  FROM chat_request_notifications
 WHERE notified_at >= %s AND notified_at < %s
 GROUP BY mitra_id
"""


def _statements(script: str) -> list[str]:
    """One statement per execute: with server-side binding (DB_PREPARE_THRESHOLD, on by
    default) PostgreSQL refuses several commands in one."""
    return [statement.strip() for statement in script.split(";\n") if statement.strip()]


def _timed(fn, runs: int = RUNS) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(rows: int) -> None:
    url = _database_url()
    try:
        _ensure_database(url)
    except Exception as exc:
        print(f"Dashboard benchmark skipped: no PostgreSQL at {url} ({exc})")
        return
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from activity.services import roll_up_final_days
    from common.days import day_start
    from pairing.accounts.services import create_or_update_account
    from pairing.models import Offer, User

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    requests = max(1, rows // PER_REQUEST)
    if Offer.objects.count() != requests * PER_REQUEST:
        wanted, kept_in = requests * PER_REQUEST, connection.settings_dict["NAME"]
        print(f"Generating {wanted:,} log rows over {DAYS} days, {MITRAS} mitras (once; kept in {kept_in})…")
        with connection.cursor() as cursor:
            # The database is the benchmark's own: every user goes, with what refers to them,
            # the log (no foreign keys) and the last run's roll-ups (or they would count twice).
            cursor.execute(
                "TRUNCATE chat_request_notifications, activity_rolled_up_days, activity_mitra_daily, pairing_user"
                " CASCADE"
            )
            values = {"mitras": MITRAS, "days": DAYS, "requests": requests, "per_request": PER_REQUEST}
            for statement in _statements(GENERATE):
                cursor.execute(statement, values)
        with connection.cursor() as cursor:  # what autovacuum does to a table that was written: index-only scans
            cursor.execute("VACUUM ANALYZE")
    rolled = roll_up_final_days()  # what the beat task does each night
    if rolled:
        print(f"Rolled up {len(rolled)} final days (the beat task's work, done once).")
    staff, _ = create_or_update_account(username="bench-staff", role="staff", password="bench-password")
    client = Client()
    client.force_login(staff)
    today = timezone.localdate()
    one_mitra = User.objects.filter(role="mitra").order_by("id").first()

    def get(path: str):
        def call():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        return call

    def bare(start, end):
        def call():
            with connection.cursor() as cursor:
                cursor.execute(BARE_SQL, [start, end])
                return cursor.fetchall()

        return call

    print(f"Dashboard: {Offer.objects.count():,} log rows, {MITRAS} mitras, PostgreSQL; "
          f"{RUNS} runs each, server time in ms (Django test client, no network)")  # fmt: skip
    print(f"{'what':<44} {'rows':>9} {'p50':>8} {'p95':>8}   ratio to bare SQL p50 (same range)")
    results = {}
    for days in RANGES:
        date_from = today - timezone.timedelta(days=days - 1)
        query = f"date_from={date_from}&date_to={today}"
        start, end = day_start(date_from), day_start(today + timezone.timedelta(days=1))
        in_range = Offer.objects.filter(notified_at__gte=start, notified_at__lt=end).count()
        sql = _timed(bare(start, end))
        bare_p50 = statistics.median(sql)
        rows = [(f"bare SQL aggregate ({days} days)", sql), (f"page, {days} days, all mitras",
                _timed(get(f"/control-center/mitra-activity/?{query}")))]  # fmt: skip
        if days == 30:
            pages = {
                "page, 30 days, one mitra": f"/control-center/mitra-activity/?{query}&mitra={one_mitra.id}",
                "mitra page, 30 days": f"/control-center/mitra-activity/{one_mitra.id}/?{query}",
                "log rows behind a number (30 days, ignored)": f"/control-center/log/?{query}&response=ignored",
                "hours, 30 days": f"/control-center/hours/?{query}",
            }
            rows += [(label, _timed(get(path))) for label, path in pages.items()]
        for label, times in rows:
            results[label] = statistics.median(times) / bare_p50
            print(f"{label:<44} {in_range:>9,} {statistics.median(times):>8.1f} {_p(times, 95):>8.1f}   "
                  f"{statistics.median(times) / bare_p50:>5.2f}x")  # fmt: skip
    live = _timed(get("/control-center/live/"))
    print(f"{'live page (500 mitras, snapshot)':<44} {'':>9} {statistics.median(live):>8.1f} {_p(live, 95):>8.1f}")
    ratio = results["page, 30 days, all mitras"]
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"target: 30-day page, all mitras, p50 <= {TARGET_RATIO}x the bare SQL aggregate: {ratio:.2f}x, {verdict}")
