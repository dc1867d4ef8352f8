"""The outbox stays bounded: pruning removes everything the contract lets go (section 11:
at least the last 10 minutes and the last 500 events per user are kept), in short
transactions within a time budget, and the events of users who left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from pairing.accounts.models import Role, User
from pairing.events import outbox
from pairing.events.models import EventBatch, EventSequence, UserEvent
from pairing.events.outbox import KEEP_LAST, prune
from tests.support import add_users, create_request

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="fills the outbox with PostgreSQL's generate_series"
)

OLD = timedelta(minutes=20)


def fill(user_ids: list[int], old: int, recent: int) -> None:
    """`old` events 20 minutes old then `recent` new ones, each to every user, written as
    fan-outs write them (a batch's rows together, ids growing with time)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO event_batches (type, audiences_json, created_at, dispatched_at)"
            " SELECT 'chat_request.new', '[{}]', CASE WHEN n <= %s THEN %s ELSE %s END + n * interval '1 ms', %s"
            " FROM generate_series(1, %s) AS n ORDER BY n RETURNING id",
            [old, now - OLD, now, now, old + recent],
        )
        batch_ids = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "INSERT INTO user_events (user_id, seq, batch_id, audience)"
            " SELECT u, b.seq, b.id, 0 FROM unnest(%s::bigint[]) WITH ORDINALITY AS b (id, seq)"
            " CROSS JOIN unnest(%s::int[]) AS u ORDER BY b.seq, u",
            [batch_ids, user_ids],
        )
        cursor.execute(
            "INSERT INTO event_sequences (user_id, last_seq) SELECT u, %s FROM unnest(%s::int[]) AS u",
            [old + recent, user_ids],
        )


@on_postgres
def test_one_run_removes_every_old_row_past_each_users_last_500(db):
    users = add_users(150, "busy-mitra", Role.MITRA)
    fill(users, old=1_500, recent=10)  # 226,500 rows, 151,500 of them prunable
    pruned = prune(timezone.now(), budget_seconds=120, rows_per_statement=7_000)
    assert (pruned.user_events, pruned.finished) == (150 * (1_510 - KEEP_LAST), True)
    # What each user keeps is exactly its last 500, the last 10 minutes among them.
    assert UserEvent.objects.count() == 150 * KEEP_LAST
    assert set(UserEvent.objects.values_list("seq", flat=True)) == set(range(1_011, 1_511))
    assert outbox.events_since(users[0], 1_010)[1] is not None
    assert outbox.events_since(users[0], 1_009)[1] is None  # resync: that one is gone
    # The batches nobody refers to any more are gone with their rows.
    assert pruned.batches == 1_010 and EventBatch.objects.count() == KEEP_LAST


@on_postgres
def test_a_run_stops_at_its_time_budget_and_the_next_goes_on_from_there(db):
    users = add_users(20, "budget-mitra", Role.MITRA)
    fill(users, old=700, recent=0)
    # Each user's first 500 rows (in id order) become its last 500: 10,000 kept rows come
    # first, then 4,000 prunable ones.
    UserEvent.objects.filter(seq__lte=KEEP_LAST).update(seq=F("seq") + 1_000)
    EventSequence.objects.update(last_seq=1_500)
    first = prune(timezone.now(), budget_seconds=0, rows_per_statement=1_000)  # one window, nothing prunable in it
    assert not first.finished and first.user_events == 0
    runs, removed, after = 1, 0, first.resume_after
    while not (run := prune(timezone.now(), budget_seconds=0, after=after, rows_per_statement=1_000)).finished:
        runs, removed, after = runs + 1, removed + run.user_events, run.resume_after
    assert (removed + run.user_events, runs) == (4_000, 13)
    assert UserEvent.objects.count() == 20 * KEEP_LAST


def test_a_departed_users_events_go_after_10_minutes_and_it_resyncs_when_back(db, make_mitra, customer):
    gone, staying = make_mitra(), make_mitra()
    for _ in range(3):
        session_id = create_request(customer)
        assert customer.post(f"/api/customer/chat-requests/{session_id}/cancel/").status_code == 200
    assert gone.get("/api/events/?since=0").json()["seq"] == 6
    User.objects.filter(pk=gone.id).update(is_active=False)  # as staff do in the admin
    assert prune(timezone.now(), budget_seconds=10).user_events == 0  # within 10 minutes: kept for everyone

    batches = EventBatch.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert prune(timezone.now(), budget_seconds=10).user_events == 6  # the departed mitra's six
    assert not UserEvent.objects.filter(user=gone.user).exists()
    assert UserEvent.objects.filter(user=staying.user).count() == 6  # a mitra still here keeps its last 500
    assert EventBatch.objects.count() == batches  # each still referred to by the staying mitra or the customer

    # Back again: the app's resume from where it was is a resync, and numbering goes on.
    User.objects.filter(pk=gone.id).update(is_active=True)
    frame = gone.get("/api/events/?since=2").json()
    assert (frame["resync"], frame["seq"]) == (True, 6)
    create_request(customer)
    assert gone.get("/api/events/?since=6").json()["events"][0]["seq"] == 7


def test_the_rows_of_a_user_that_no_longer_exists_go_with_their_counter(db, make_mitra, customer):
    mitra = make_mitra()
    create_request(customer)
    EventBatch.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    # A row whose user is gone (an account removed in SQL: the rows have no constraint).
    UserEvent.objects.create(user_id=mitra.id + 10_000, seq=1, batch=EventBatch.objects.first(), audience=0)
    assert prune(timezone.now(), budget_seconds=10).user_events == 1
    assert UserEvent.objects.filter(user=mitra.user).count() == 1
    assert EventSequence.objects.filter(user=mitra.user).exists()


def _plans(run) -> list[dict]:
    """PostgreSQL's plan, as run, of every statement `run` sends."""
    import json

    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as sent:
        run()
    plans = []
    with connection.cursor() as cursor:
        for query in sent.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            found = cursor.fetchone()[0]
            plans.append((json.loads(found) if isinstance(found, str) else found)[0]["Plan"])
    return plans


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@on_postgres
def test_reads_of_many_users_ranges_use_the_index_however_large_the_outbox(db):
    """The ack batches (every 0.1 s per process) and the hub's catch-up read each user's
    range by the (user, seq) index: a plan that scans the outbox costs more the more it
    keeps, and did, before PostgreSQL had statistics for the table."""
    users = add_users(300, "ranges-mitra", Role.MITRA)
    fill(users, old=0, recent=400)  # 120,000 rows
    ranges = {user_id: (390, 400) for user_id in users}
    since = timezone.now() - timedelta(minutes=5)
    for plan in [
        *_plans(lambda: outbox.sessions_offered_upto(ranges, since=since, event_type="chat_request.new")),
        *_plans(lambda: outbox.events_after_many(ranges)),
    ]:
        reads = [node for node in _nodes(plan) if node.get("Relation Name") == "user_events"]
        assert reads and all(node.get("Index Name") == "one_event_per_user_seq" for node in reads), plan
        # One look into the index per range: not one per range and batch, nor the whole outbox.
        assert sum(node["Actual Loops"] for node in reads) <= len(ranges), plan
    assert all(len(events) == 10 for events in outbox.events_after_many(ranges).values())
