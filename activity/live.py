"""What the live operations page shows: requests waiting now with their offers'
progress, every mitra's state, and today's broadcast health, as one JSON-ready dict.

The staff socket (`activity.consumers`) sends this again whenever something changes;
the page renders it and counts down locally, so nothing in the browser polls.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from appconfig.models import RuntimeConfig, get_config
from common.days import day_start
from pairing.lifecycle import ACTIVE_SESSION_STATUSES, OfferResponse, SessionStatus
from pairing.models import ChatRequest, Device, MitraProfile, Offer, Role, User
from pairing.realtime.presence import online_mitra_ids

from . import selectors

logger = logging.getLogger(__name__)

PENDING_SHOWN = 200  # requests listed at once; the count is always whole


# An offer younger than this may still be on its way: it does not count as undelivered yet.
ACK_GRACE_SECONDS = 10
ALERT_WINDOW = timedelta(minutes=15)
# How far back the board looks for a mitra's last answer (the log index covers this range).
LAST_ANSWER_WINDOW = timedelta(days=30)


@dataclass
class State:
    """The live page's state, kept between changes so that a change reads again only what
    it concerns: every active mitra's entry (with its group) and board row by id, whether
    presence could be read, the parts that do not grow with the number of mitras
    (`page`), and the threshold the rows' "not acknowledging" was judged by."""

    mitras: dict[int, dict]
    board: dict[int, dict]
    presence_known: bool
    page: dict
    in_a_row_limit: int


# A change that concerns more users than this (a large fan-out) reads every mitra: as
# cheap as a list of ids that long, and no query carries thousands of parameters.
READ_ALL_ABOVE = 1000
PAGE_PARTS = ("pending", "pending_count", "alerts", "expired_recently", "today")


def snapshot() -> dict:
    """The whole page, read now (the page's first render, and what a new tab is sent)."""
    return present(read()[0])


def read(previous: State | None = None, user_ids: Collection[int] | None = None) -> tuple[State, set[int] | None]:
    """The state after a change that concerned `user_ids` (None: anyone), and the mitras
    whose entries were read again (None: all). Only those mitras are read; the page's
    other parts (bounded: requests waiting, the last expiries, today's totals, alerts) are
    read every time. Everything is read when there is nothing to build on, for a change
    of more than READ_ALL_ABOVE users, when presence was unknown last time (every mitra
    was shown offline), or when the "not acknowledging" threshold changed."""
    now = timezone.now()
    config = get_config()
    limit = config.alert_undelivered_in_a_row
    if (
        previous is None
        or user_ids is None
        or len(user_ids) > READ_ALL_ABOVE
        or not previous.presence_known
        or previous.in_a_row_limit != limit
    ):
        ids = None
        mitras, known = mitra_entries(None)
        board = board_rows(mitras, None, config, now)
    else:
        ids = set(user_ids)
        entries, known = mitra_entries(ids)
        mitras = {mitra_id: e for mitra_id, e in previous.mitras.items() if mitra_id not in ids} | entries
        rows = board_rows(entries, ids, config, now)
        board = {mitra_id: row for mitra_id, row in previous.board.items() if mitra_id not in ids} | rows
    return State(mitras, board, known, page_parts(mitras, board, known, config, now), limit), ids


def page_parts(mitras: dict[int, dict], board: dict[int, dict], known: bool, config: RuntimeConfig, now) -> dict:
    """Requests waiting with their offers' progress, the last expiries, today's health and
    the alerts."""
    waiting = (
        ChatRequest.objects.filter(status=SessionStatus.PENDING)  # overdue ones too, until the sweep says so
        .select_related("customer")
        .annotate(
            offered=Count("offers"),
            delivered=Count("offers", filter=Q(offers__delivered_at__isnull=False)),
            seen=Count("offers", filter=Q(offers__seen_at__isnull=False)),
            declined=Count("offers", filter=Q(offers__response=OfferResponse.REJECTED)),
        )
        .order_by("expires_at")
    )
    pending = [
        {
            "id": str(s.id),
            "url": reverse("control-center:request", args=[s.id]),
            "customer": s.customer.name,
            "minutes": s.duration_minutes,
            "requested_at": s.requested_at.isoformat(),
            "expires_at": s.expires_at.isoformat(),
            "offered": s.offered,
            "delivered": s.delivered,
            "seen": s.seen,
            "declined": s.declined,
        }
        for s in waiting[:PENDING_SHOWN]
    ]
    today = timezone.localdate()
    health = selectors.broadcast_health(day_start(today), day_start(today + timedelta(days=1)))
    any_available = any(entry["group"] == "available" for entry in mitras.values())
    return {
        "now": now.isoformat(),
        "time_zone": timezone.get_current_timezone_name(),
        "pending": pending,
        "pending_count": len(pending) if len(pending) < PENDING_SHOWN else waiting.count(),
        "alerts": alerts(pending, known and not any_available, board, config, now),
        "expired_recently": expired_recently(now),
        "today": health.__dict__,
    }


def _board_order(row: dict) -> tuple:
    return STATE_ORDER[row["state"]], row["name"].lower()


def present(state: State) -> dict:
    """The page's whole state as the page reads it: mitras in their groups, each sorted by
    name, and the board in state order."""
    groups: dict[str, list[dict]] = {group: [] for group in STATE_ORDER}
    for entry in state.mitras.values():
        groups[entry["group"]].append(entry)
    for members in groups.values():
        members.sort(key=lambda m: m["name"].lower())
    board = sorted(state.board.values(), key=_board_order)
    return {**state.page, "mitras": {**groups, "presence_known": state.presence_known}, "board": board}


def difference(old: State, new: State, ids: Collection[int] | None) -> dict:
    """What a tab that has `old` needs to show `new`, when only the mitras `ids` (None:
    any) were read again: the page's parts that changed, whole; mitras' entries that
    changed, whole, and those gone; board rows that changed, only their changed fields
    (a fan-out changes every row's "offered" and nothing else), and those gone."""
    update: dict = {"now": new.page["now"]}
    update |= {part: new.page[part] for part in PAGE_PARTS if new.page[part] != old.page[part]}
    mitra_ids = ids if ids is not None else old.mitras.keys() | new.mitras.keys()
    changed = [new.mitras[i] for i in sorted(mitra_ids) if i in new.mitras and new.mitras[i] != old.mitras.get(i)]
    removed = sorted(i for i in mitra_ids if i in old.mitras and i not in new.mitras)
    if changed or removed or new.presence_known != old.presence_known:
        update["mitras"] = {"changed": changed, "removed": removed, "presence_known": new.presence_known}
    board_ids = ids if ids is not None else old.board.keys() | new.board.keys()
    rows, gone = [], []
    for mitra_id in sorted(board_ids):
        before, after = old.board.get(mitra_id), new.board.get(mitra_id)
        if after is None:
            if before is not None:
                gone.append(mitra_id)
        elif before is None:
            rows.append(after)
        elif fields := {key: value for key, value in after.items() if before.get(key) != value}:
            rows.append({"id": mitra_id, **fields})
    if rows or gone:
        update["board"] = {"changed": rows, "removed": gone}
    return update


EXPIRED_SHOWN = 10


def expired_recently(now) -> list[dict]:
    """The requests that expired in the alert window, newest first: a request that leaves
    "Waiting now" unanswered is still on the page, with why."""
    rows = (
        ChatRequest.objects.filter(status=SessionStatus.EXPIRED, expired_at__gte=now - ALERT_WINDOW)
        .select_related("customer").annotate(
            offered=Count("offers"), delivered=Count("offers", filter=Q(offers__delivered_at__isnull=False))
        ).order_by("-expired_at")[:EXPIRED_SHOWN]
    )  # fmt: skip
    return [
        {"id": str(r.id), "url": reverse("control-center:request", args=[r.id]), "customer": r.customer.name,
         "expired_at": r.expired_at.isoformat(), "reason": r.get_expire_reason_display() if r.expire_reason else "",
         "offered": r.offered, "delivered": r.delivered}
        for r in rows
    ]  # fmt: skip


def alerts(
    pending: list[dict], no_mitra_available: bool, board: dict[int, dict], config: RuntimeConfig, now
) -> list[dict]:
    """What needs a person now, each with its threshold (runtime config, editable in the admin)."""
    found = []
    wait = config.alert_undelivered_wait_seconds
    for request in pending:
        waited = (now - datetime.fromisoformat(request["requested_at"])).total_seconds()
        if request["delivered"] == 0 and waited >= wait:
            found.append({"kind": "undelivered_request", "url": request["url"],
                          "text": f"Request {request['id'][:8]} has waited {waited:.0f} s and no mitra's app has "
                                  f"acknowledged its offer (alert after {wait} s)."})  # fmt: skip
    recent = ChatRequest.objects.filter(requested_at__gte=now - ALERT_WINDOW).count()
    if no_mitra_available and (pending or recent):
        found.append({"kind": "no_mitra_available", "url": reverse("control-center:live"),
                      "text": f"No mitra is available, and {recent} request{'s' if recent != 1 else ''} "
                              f"came in the last 15 minutes."})  # fmt: skip
    expired = ChatRequest.objects.filter(status=SessionStatus.EXPIRED, expired_at__gte=now - ALERT_WINDOW).count()
    if expired >= config.alert_expired_per_15_minutes:
        today = timezone.localdate().isoformat()
        found.append({"kind": "expiries",
                      "url": f"{reverse('control-center:requests')}?date_from={today}&date_to={today}&outcome=expired",
                      "text": f"{expired} requests expired in the last 15 minutes "
                              f"(alert at {config.alert_expired_per_15_minutes})."})  # fmt: skip
    for row in sorted((row for row in board.values() if row["not_acknowledging"]), key=_board_order):
        found.append({"kind": "not_acknowledging", "url": row["url"],
                      "text": f"{row['name']}'s app has not acknowledged the last {row['undelivered_in_a_row']} "
                              f"offers (alert at {config.alert_undelivered_in_a_row} in a row)."})  # fmt: skip
    return found


def board_rows(mitras: dict[int, dict], ids: Collection[int] | None, config: RuntimeConfig, now) -> dict[int, dict]:
    """The board's rows of `mitras` (entries of the mitras `ids`, or of all when None), one
    per mitra that is online or had offers today: state and since when (a session's start;
    presence keeps no start time), sessions with their end, last answer, today's offered /
    delivered / answered / ignored and response rate, whether the app has stopped
    acknowledging offers, and whether push can reach it."""
    start = day_start(timezone.localdate())
    today = dict.fromkeys(("offered", "delivered", "answered", "ignored"), 0)
    offers_today = Offer.objects.filter(notified_at__gte=start)
    if ids is not None:
        offers_today = offers_today.filter(mitra_id__in=list(ids))
    figures = {
        row.pop("mitra_id"): row
        for row in offers_today.order_by().values("mitra_id").annotate(
            offered=Count("id"), delivered=Count("id", filter=Q(delivered_at__isnull=False)),
            delivered_answered=Count("id", filter=Q(delivered_at__isnull=False) & selectors.ANSWERED),
            answered=Count("id", filter=selectors.ANSWERED),
            ignored=Count("id", filter=Q(response=OfferResponse.IGNORED)),
        )
    }  # fmt: skip
    shown = [mitra_id for mitra_id, entry in mitras.items() if entry["group"] != "offline" or mitra_id in figures]

    def of_shown(rows: QuerySet, field: str) -> QuerySet:
        """Reading every mitra, take every row and keep the shown mitras' below: thousands
        of ids in each query cost more than the rows they keep out."""
        return rows if ids is None else rows.filter(**{f"{field}__in": shown})

    answers = Offer.objects.filter(notified_at__gte=now - LAST_ANSWER_WINDOW, responded_at__isnull=False)
    last_answer = dict(
        of_shown(answers, "mitra_id").order_by().values("mitra_id").annotate(last=Max("responded_at"))
        .values_list("mitra_id", "last")
    )  # fmt: skip
    sessions = defaultdict(list)
    for session in of_shown(ChatRequest.objects.filter(status__in=ACTIVE_SESSION_STATUSES), "mitra_id").order_by(
        "accepted_at"
    ).values("id", "mitra_id", "status", "accepted_at", "ends_at", "grace_ends_at"):  # fmt: skip
        ends = session["grace_ends_at"] if session["status"] == SessionStatus.CLOSING else session["ends_at"]
        sessions[session["mitra_id"]].append({
            "id": str(session["id"]), "url": reverse("control-center:request", args=[session["id"]]),
            "status": session["status"], "ends_at": ends.isoformat() if ends else None,
        })  # fmt: skip
    in_a_row = undelivered_in_a_row(None if ids is None else shown, config.alert_undelivered_in_a_row, now)
    devices = dict(
        of_shown(Device.objects.filter(is_active=True), "user_id").order_by().values("user_id")
        .annotate(n=Count("id")).values_list("user_id", "n")
    )  # fmt: skip
    since = dict(
        of_shown(ChatRequest.objects.filter(status__in=ACTIVE_SESSION_STATUSES), "mitra_id").order_by()
        .values("mitra_id").annotate(first=Min("accepted_at")).values_list("mitra_id", "first")
    )  # fmt: skip
    board = {}
    for mitra_id in shown:
        mitra = mitras[mitra_id]
        counts = {**today, **figures.get(mitra_id, {})}
        delivered_answered = counts.pop("delivered_answered", 0)
        row_since = since.get(mitra_id)
        answered_at = last_answer.get(mitra_id)
        board[mitra_id] = {
            "id": mitra_id, "name": mitra["name"], "url": mitra["url"], "state": mitra["group"],
            "since": row_since.isoformat() if row_since else None, "sessions": sessions.get(mitra_id, []),
            "last_answer": answered_at.isoformat() if answered_at else None, **counts,
            "response_rate": delivered_answered / counts["delivered"] if counts["delivered"] else None,
            "undelivered_in_a_row": in_a_row.get(mitra_id, 0),
            "not_acknowledging": in_a_row.get(mitra_id, 0) >= config.alert_undelivered_in_a_row,
            "push_devices": devices.get(mitra_id, 0),
        }  # fmt: skip
    return board


STATE_ORDER = {"in_session": 0, "available": 1, "switched_off": 2, "offline": 3}


def undelivered_in_a_row(mitra_ids: list[int] | None, limit: int, now) -> dict[int, int]:
    """Per mitra (of `mitra_ids`, or every one): how many of its latest offers (up to
    `limit`, older than the grace for an ack) were never delivered, counted from the newest
    back to the first delivered one."""
    settled = now - timedelta(seconds=ACK_GRACE_SECONDS)
    offers = Offer.objects.filter(notified_at__lt=settled, notified_at__gte=now - timedelta(days=1))
    if mitra_ids is not None:
        if not mitra_ids:
            return {}
        offers = offers.filter(mitra_id__in=mitra_ids)
    rows = offers.order_by("mitra_id", "-notified_at").values_list("mitra_id", "delivered_at")
    counted: dict[int, int] = {}
    done: set[int] = set()
    for mitra_id, delivered_at in rows.iterator(chunk_size=2000):
        if mitra_id in done:
            continue
        if delivered_at is not None or counted.get(mitra_id, 0) >= limit:
            done.add(mitra_id)
            continue
        counted[mitra_id] = counted.get(mitra_id, 0) + 1
    return counted


def mitra_entries(ids: Collection[int] | None) -> tuple[dict[int, dict], bool]:
    """The active mitras `ids` (None: all), each in one of four groups: in a session (with
    how many), available (online, switched on, free), online but switched off, and
    offline; and whether presence could be read."""
    busy = ChatRequest.objects.filter(status__in=ACTIVE_SESSION_STATUSES, mitra__isnull=False)
    unavailable = MitraProfile.objects.filter(is_available=False)
    users = User.objects.filter(role=Role.MITRA, is_active=True)
    if ids is not None:
        asked = list(ids)
        busy = busy.filter(mitra_id__in=asked)
        unavailable = unavailable.filter(user_id__in=asked)
        users = users.filter(id__in=asked)
    sessions = dict(busy.order_by().values("mitra_id").annotate(n=Count("id")).values_list("mitra_id", "n"))
    switched_off = set(unavailable.values_list("user_id", flat=True))
    try:
        online, known = online_mitra_ids(ids), True
    except Exception:  # Redis is down: say so rather than show everyone offline
        logger.warning("presence unknown", exc_info=True)
        online, known = set(), False
    # reverse() once, not per mitra: it was a fifth of reading 5,000 mitras.
    url_head, url_tail = reverse("control-center:mitra-detail", args=[0]).rsplit("0", 1)
    entries = {}
    for mitra in users.only("id", "username", "display_name"):
        entry = {"id": mitra.id, "name": mitra.name, "online": mitra.id in online,
                 "url": f"{url_head}{mitra.id}{url_tail}"}  # fmt: skip
        if mitra.id in sessions:
            entry |= {"group": "in_session", "sessions": sessions[mitra.id]}
        elif mitra.id not in online:
            entry["group"] = "offline"
        elif mitra.id in switched_off:
            entry["group"] = "switched_off"
        else:
            entry["group"] = "available"
        entries[mitra.id] = entry
    return entries, known
