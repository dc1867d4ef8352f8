"""The outbox's reads and writes: numbering events per user, replaying them, the relay's
queue of events not yet handed to every subscriber, and pruning.

Written for a fan-out to thousands of mitras: on PostgreSQL one statement writes a
transaction's events, numbers every recipient and writes their rows; SQLite (3.35+), which
has no data-modifying CTEs, takes three. Every other statement both run as is.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from common.chunks import chunks

from .event import Audience, Event, encode
from .models import EventBatch, EventSequence, UserEvent

# Contract section 11: at least the last 10 minutes and the last 500 events per user are kept.
KEEP_FOR = timedelta(minutes=10)
KEEP_LAST = 500
ROWS_PER_STATEMENT = 5000
# Rows pruning looks at in one transaction.
PRUNE_ROWS_PER_STATEMENT = 20_000


def _values(rows: list[tuple[int, ...]]) -> str:
    """A VALUES list of integers (ids and counts from the database, never user input)."""
    return ",".join("(" + ",".join(str(int(value)) for value in row) + ")" for row in rows)


def write(events: list[Event], now: datetime) -> None:
    """Number and write a transaction's events; sets each audience's seqs and batch ids.

    Each recipient's counter goes up by its number of rows in the transaction, and its rows
    take the numbers below the new value, in the order of the events and their audiences."""
    wanted = Counter(user_id for event in events for audience in event.audiences for user_id in audience.user_ids)
    if connection.vendor == "postgresql":
        batch_ids, last = _write_in_one_statement(events, wanted, now)
        _number(events, batch_ids, last, wanted, now)
    else:
        batch_ids, last = _write_batches_and_counters(events, wanted, now)
        _number(events, batch_ids, last, wanted, now)
        _write_user_events(events)


def _number(events: list[Event], batch_ids: list[int], last: dict[int, int], wanted: Counter, now: datetime) -> None:
    """Set each event's batch id and each audience's seqs."""
    following = {user_id: last[user_id] - count + 1 for user_id, count in wanted.items()}
    for event, batch_id in zip(events, batch_ids, strict=True):
        event.batch_id, event.created_at = batch_id, now
        for audience in event.audiences:
            seqs = []
            for user_id in audience.user_ids:
                seqs.append(following[user_id])
                following[user_id] += 1
            audience.seqs = tuple(seqs)


def _integers(values: list[int]) -> str:
    """An array of integers as PostgreSQL's literal: psycopg dumps a Python list element by
    element, a cost per recipient on every fan-out's outbox write."""
    return "{" + ",".join(map(str, values)) + "}"


def _stored_audiences(event: Event) -> str:
    """The batch's audiences_json: each audience's data, already encoded, in order."""
    return "[" + ",".join(audience.data_json for audience in event.audiences) + "]"


def _counters_upsert(rows: str) -> str:
    """Every recipient's counter up by its count, returning the new values. `rows` gives
    (user_id, count) in user order: two transactions never deadlock on the counters."""
    table = EventSequence._meta.db_table
    return (
        f"INSERT INTO {table} (user_id, last_seq) {rows} "
        f"ON CONFLICT (user_id) DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq "
        "RETURNING user_id, last_seq"
    )


def _write_in_one_statement(events: list[Event], wanted: Counter, now: datetime) -> tuple[list[int], dict[int, int]]:
    """PostgreSQL: batches, counters and user_events in one statement (data-modifying CTEs).
    Two round trips fewer than three statements, and no list of seqs built in Python and
    parsed again.

    Its rows come as arrays, so its text is the same for every fan-out and each connection
    prepares it once (settings.DB_PREPARE_THRESHOLD), instead of parsing and planning a
    VALUES list of every recipient each time.

    Each user_events row carries how many of its user's rows come after it in the
    transaction (`later`): its seq is the counter's new value minus that."""
    remaining = wanted.copy()
    positions, audiences, user_ids, later = [], [], [], []
    for position, event in enumerate(events):
        for index, audience in enumerate(event.audiences):
            for user_id in audience.user_ids:
                remaining[user_id] -= 1
                positions.append(position)
                audiences.append(index)
                user_ids.append(user_id)
                later.append(remaining[user_id])
    counted = sorted(wanted.items())  # in user order, as _counters_upsert asks
    batches, user_events = EventBatch._meta.db_table, UserEvent._meta.db_table
    params = [
        batches,
        list(range(len(events))), [event.type for event in events], [_stored_audiences(event) for event in events],
        connection.ops.adapt_datetimefield_value(now),
        _integers([user_id for user_id, _ in counted]), _integers([count for _, count in counted]),
        _integers(positions), _integers(audiences), _integers(user_ids), _integers(later),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH batch AS ("
            f" SELECT given.position, nextval(pg_get_serial_sequence(%s, 'id')) AS id, given.type, given.body"
            f" FROM unnest(%s::int[], %s::text[], %s::text[]) AS given (position, type, body)"
            f"), stored_batch AS ("
            f" INSERT INTO {batches} (id, type, audiences_json, created_at)"
            f" SELECT id, type, body, %s FROM batch ORDER BY position"
            f"), counter AS ("
            + _counters_upsert("SELECT * FROM unnest(%s::bigint[], %s::bigint[]) AS wanted ORDER BY 1")
            + f"), stored_event AS ("
            f" INSERT INTO {user_events} (user_id, seq, batch_id, audience)"
            f" SELECT r.user_id, counter.last_seq - r.later, batch.id, r.audience"
            f" FROM unnest(%s::int[], %s::int[], %s::bigint[], %s::int[]) AS r (position, audience, user_id, later)"
            f" JOIN counter ON counter.user_id = r.user_id JOIN batch ON batch.position = r.position"
            f") SELECT 0, position, id FROM batch UNION ALL SELECT 1, user_id, last_seq FROM counter",
            params,
        )
        result = cursor.fetchall()
    batch_ids = [batch_id for _, batch_id in sorted((key, value) for kind, key, value in result if kind == 0)]
    return batch_ids, {user_id: last_seq for kind, user_id, last_seq in result if kind == 1}


def _write_batches_and_counters(
    events: list[Event], wanted: Counter, now: datetime
) -> tuple[list[int], dict[int, int]]:
    batches = EventBatch.objects.bulk_create(
        EventBatch(type=event.type, audiences_json=_stored_audiences(event), created_at=now) for event in events
    )
    with connection.cursor() as cursor:
        cursor.execute(_counters_upsert(f"VALUES {_values(sorted(wanted.items()))}"))
        return [batch.pk for batch in batches], dict(cursor.fetchall())


def _write_user_events(events: list[Event]) -> None:
    """The numbered events' (user, seq, batch, audience) rows."""
    rows = [
        (user_id, seq, event.batch_id, index)
        for event in events
        for index, audience in enumerate(event.audiences)
        for user_id, seq in zip(audience.user_ids, audience.seqs, strict=True)
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            cursor.execute(
                f"INSERT INTO {UserEvent._meta.db_table} (user_id, seq, batch_id, audience) "
                f"VALUES {_values(rows[start : start + ROWS_PER_STATEMENT])}"
            )


def mark_dispatched(batch_ids: list[int]) -> None:
    """A hint for the relay, written without waiting for the disk: if it is lost in a
    crash the relay hands the events over again, which every subscriber tolerates. An
    fsync here would cost each state-changing call a second disk flush after its own."""
    if not batch_ids:
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        EventBatch.objects.filter(id__in=batch_ids, dispatched_at__isnull=True).update(dispatched_at=timezone.now())


def latest_seq(user_id: int) -> int:
    return EventSequence.objects.filter(user_id=user_id).values_list("last_seq", flat=True).first() or 0


def latest_seqs(user_ids: list[int]) -> dict[int, int]:
    """Each user's latest seq (a process's sockets may be more users than a statement binds)."""
    latest: dict[int, int] = {}
    for some in chunks(user_ids):
        latest.update(EventSequence.objects.filter(user_id__in=some).values_list("user_id", "last_seq"))
    return latest


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    type: str
    created_at: datetime
    data_json: str
    session_id: str | None


# The events in each user's range (the ranges as arrays), read first, each range by the
# (user, seq) index, before anything is joined to them. Left to itself PostgreSQL may
# plan the read as a scan of the whole outbox, or as one index look per range *and* batch
# (it did both while the tables had no statistics: the ack batches then cost more the more
# events were kept). The LIMIT (a range holds at most upto - after events) keeps each
# range's read to itself, and MATERIALIZED keeps the whole read before the join.
_EVENTS_IN_RANGES = (
    "WITH e AS MATERIALIZED (SELECT e.user_id, e.seq, e.audience, e.batch_id"
    " FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) AS r (user_id, after, upto)"
    f" CROSS JOIN LATERAL (SELECT e.user_id, e.seq, e.audience, e.batch_id FROM {UserEvent._meta.db_table} e"
    " WHERE e.user_id = r.user_id AND e.seq > r.after AND e.seq <= r.upto LIMIT r.upto - r.after) e)"
)


def _ranges_as_arrays(ranges: dict[int, tuple[int, int]]) -> list[str]:
    """The parameters of _EVENTS_IN_RANGES: users, afters and uptos, in user order."""
    users = sorted(ranges)
    return [
        _integers(users),
        _integers([ranges[user_id][0] for user_id in users]),
        _integers([ranges[user_id][1] for user_id in users]),
    ]


def _nonempty(ranges: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """The ranges with an event in them (an ack from a slower socket can be past its range)."""
    return {user_id: (after, upto) for user_id, (after, upto) in ranges.items() if upto > after}


def events_after(user_id: int, after: int, upto: int) -> list[StoredEvent] | None:
    """The user's events with after < seq <= upto, in order; None if any is no longer kept."""
    return events_after_many({user_id: (after, upto)})[user_id]


def events_after_many(ranges: dict[int, tuple[int, int]]) -> dict[int, list[StoredEvent] | None]:
    """Each user's events with a seq in their (after, upto] range, in order; None for a
    user some of whose events are no longer kept. One query on PostgreSQL (the ranges as
    arrays), whatever the number of users: a process's sockets that fell behind together
    catch up together. SQLite, a developer's, asks user by user."""
    wanted = _nonempty(ranges)
    rows: list[tuple[int, int, int, int, str, datetime, str]] = []
    columns = ("user_id", "seq", "audience", "batch_id", "batch__type", "batch__created_at", "batch__audiences_json")
    if connection.vendor == "postgresql" and len(wanted) > 1:
        with connection.cursor() as cursor:
            cursor.execute(
                f"{_EVENTS_IN_RANGES} SELECT e.user_id, e.seq, e.audience, e.batch_id, b.type, b.created_at,"
                f" b.audiences_json FROM e JOIN {EventBatch._meta.db_table} b ON b.id = e.batch_id",
                _ranges_as_arrays(wanted),
            )  # fmt: skip
            rows = cursor.fetchall()
    else:
        for user_id, (after, upto) in wanted.items():
            rows += UserEvent.objects.filter(user_id=user_id, seq__gt=after, seq__lte=upto).values_list(*columns)
    found: dict[int, list[StoredEvent] | None] = {user_id: [] for user_id in ranges}
    views: dict[tuple[int, int], tuple[str, str | None]] = {}  # a broadcast's view, decoded once for all its users
    for user_id, seq, audience, batch_id, event_type, created_at, audiences_json in sorted(rows, key=_by_user_seq):
        view = views.get((batch_id, audience))
        if view is None:
            data = json.loads(audiences_json)[audience]
            session_id = data.get("session_id") if isinstance(data, dict) else None
            view = views[(batch_id, audience)] = (encode(data), session_id)
        found[user_id].append(StoredEvent(seq, event_type, created_at, view[0], view[1]))
    for user_id, (after, upto) in ranges.items():
        if len(found[user_id]) != max(0, upto - after):
            found[user_id] = None
    return found


def _by_user_seq(row: tuple) -> tuple[int, int]:
    return row[0], row[1]


def sessions_offered_upto(
    ranges: dict[int, tuple[int, int]], *, since: datetime, event_type: str
) -> set[tuple[int, str]]:
    """(user id, session id) of the users' `event_type` events with a seq in each user's
    (after, upto] range, committed since `since`, as far as they are still kept: one query
    on PostgreSQL (the ranges as arrays), whatever the number of users; SQLite, a
    developer's, asks user by user."""
    wanted = _nonempty(ranges)
    if not wanted:
        return set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"{_EVENTS_IN_RANGES} SELECT e.user_id, e.audience, b.audiences_json"
                f" FROM e JOIN {EventBatch._meta.db_table} b ON b.id = e.batch_id"
                " WHERE b.type = %s AND b.created_at >= %s",
                [*_ranges_as_arrays(wanted), event_type, connection.ops.adapt_datetimefield_value(since)],
            )  # fmt: skip
            rows = cursor.fetchall()
    else:
        rows = []
        for user_id, (after, upto) in wanted.items():
            rows += UserEvent.objects.filter(
                user_id=user_id, seq__gt=after, seq__lte=upto, batch__type=event_type, batch__created_at__gte=since
            ).values_list("user_id", "audience", "batch__audiences_json")
    found = set()
    for user_id, audience, audiences_json in rows:
        data = json.loads(audiences_json)[audience]
        if isinstance(data, dict) and data.get("session_id"):
            found.add((user_id, data["session_id"]))
    return found


def events_since(user_id: int, since: int | None) -> tuple[int, list[StoredEvent] | None]:
    """What a resume from `since` gets: (the latest seq, the events after `since`), or None
    for the events when the client must resync (a bad or future `since`, or a gap not kept)."""
    latest = latest_seq(user_id)
    if since is None or since > latest:
        return latest, None
    return latest, events_after(user_id, since, latest)


def undispatched(older_than: datetime, not_before: datetime, limit: int = 200) -> list[Event]:
    """Events committed but not taken by every subscriber, rebuilt for the relay (oldest first).
    Rows another relay holds are skipped."""
    with transaction.atomic():
        queryset = EventBatch.objects.filter(
            dispatched_at__isnull=True, created_at__lt=older_than, created_at__gte=not_before
        ).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True)
        batches = list(queryset[:limit])
        rows = UserEvent.objects.filter(batch__in=batches).order_by("batch_id", "audience", "user_id")
        members: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for batch_id, audience, user_id, seq in rows.values_list("batch_id", "audience", "user_id", "seq"):
            members.setdefault((batch_id, audience), []).append((user_id, seq))
    events = []
    for batch in batches:
        audiences = []
        for index, data in enumerate(json.loads(batch.audiences_json)):
            pairs = members.get((batch.pk, index), [])
            audiences.append(Audience(data, encode(data), tuple(u for u, _ in pairs), tuple(s for _, s in pairs)))
        events.append(Event(batch.type, audiences, batch.pk, batch.created_at, relayed=True))
    return events


@dataclass(frozen=True)
class Pruned:
    user_events: int
    batches: int
    seconds: float
    # Where the next run goes on when this one used up its budget (None: it got to the end).
    resume_after: int | None

    @property
    def finished(self) -> bool:
        return self.resume_after is None


def prune(
    now: datetime, *, budget_seconds: float, after: int = 0, rows_per_statement: int = PRUNE_ROWS_PER_STATEMENT
) -> Pruned:
    """Drop every event row older than KEEP_FOR that is not among its user's last
    KEEP_LAST, and every row older than KEEP_FOR of a departed user (deactivated, or no
    longer there); then the batches no row refers to any more.

    The rows are walked in id order (ids grow with time), `rows_per_statement` at a time,
    each window its own short transaction: a run never holds many locks, nor for long, so
    the fan-outs writing new rows meanwhile never wait on it. It stops at the newest old
    row, or at the end of the first window past `budget_seconds`; the next run goes on
    from there (`after`), and the one after that starts over from the oldest row. The rows
    a user's last KEEP_LAST keeps are looked at again by every pass: a cost that follows
    what is kept, never the rows written since."""
    started = time.monotonic()
    cutoff = connection.ops.adapt_datetimefield_value(now - KEEP_FOR)
    events, batches = UserEvent._meta.db_table, EventBatch._meta.db_table
    sequences, users = EventSequence._meta.db_table, UserEvent._meta.get_field("user").related_model._meta.db_table
    # One statement per window, naming the table once (no self-join).
    delete_window = (
        f"DELETE FROM {events} WHERE id > %s AND id <= %s"
        f" AND batch_id IN (SELECT b.id FROM {batches} b WHERE b.created_at < %s) AND ("
        f" seq <= (SELECT s.last_seq FROM {sequences} s WHERE s.user_id = {events}.user_id) - %s"
        f" OR NOT EXISTS (SELECT 1 FROM {users} u WHERE u.id = {events}.user_id AND u.is_active))"
    )
    user_events = deleted_batches = 0
    resume_after = None
    with connection.cursor() as cursor:
        # The newest old row: the windows stop there. A row of an old batch with a greater
        # id (its transaction committed late) waits for the next run.
        cursor.execute(
            f"SELECT max(e.id) FROM {events} e WHERE e.batch_id = ("
            f" SELECT id FROM {batches} WHERE created_at < %s ORDER BY created_at DESC, id DESC LIMIT 1)",
            [cutoff],
        )
        last = cursor.fetchone()[0]
        while last is not None:
            cursor.execute(
                f"SELECT max(id) FROM (SELECT id FROM {events} WHERE id > %s AND id <= %s ORDER BY id LIMIT %s) AS w",
                [after, last, rows_per_statement],
            )
            upto = cursor.fetchone()[0]
            if upto is None:
                break
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # Planned for this window's ids (a generic plan of the prepared statement
                    # reads the whole range once per old batch), and not compiled: JIT costs
                    # more than the window it would speed up.
                    cursor.execute(
                        "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
                        " set_config('jit', 'off', true)"
                    )
                cursor.execute(delete_window, [after, upto, cutoff, KEEP_LAST])
                user_events += cursor.rowcount
            after = upto
            if time.monotonic() - started >= budget_seconds:
                resume_after = upto if upto < last else None
                break
        after = 0
        while True:
            with transaction.atomic():
                cursor.execute(
                    f"DELETE FROM {batches} WHERE id IN ("
                    f" SELECT b.id FROM {batches} b WHERE b.id > %s AND b.created_at < %s"
                    f" AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.batch_id = b.id)"
                    " ORDER BY b.id LIMIT %s) RETURNING id",
                    [after, cutoff, rows_per_statement],
                )
                gone = [row[0] for row in cursor.fetchall()]
            deleted_batches += len(gone)
            if len(gone) < rows_per_statement:
                break
            after = max(gone)
            if time.monotonic() - started >= budget_seconds:
                break  # the next run's pass takes the rest
    return Pruned(user_events, deleted_batches, time.monotonic() - started, resume_after)
