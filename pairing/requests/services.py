"""Every state change of a chat request: create, cancel, accept, decline, expire.

Each runs in one transaction that locks the session row first (then its log rows), so
all of them serialize on the request they touch. Log rows get their response by a
conditional update on `response IS NULL`: written once, never changed after. A call
that finds the request overdue expires it, commits that, and only then refuses
(`expiry_committed`). Each change announces its events in the same transaction; they
are delivered after commit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from appconfig.models import get_config
from common.chunks import chunks
from common.errors import NotFound
from common.thirdparty.django_orm import insert_or_ignore

from .. import clock
from ..accounts.models import MitraProfile, Role, User
from ..errors import AlreadyResponded, Busy, RequestAlreadyPending, RequestNotPending
from ..events import backlog, outbox
from ..events.bus import changing, send_event_on_commit, tell_staff_on_commit
from ..lifecycle import (
    OWN_ANSWERS,
    ExpireReason,
    OfferResponse,
    SessionStatus,
    is_overdue,
    overdue_requests,
)
from ..locking import RefuseAfterCommit, expiry_committed, locked, sweep
from . import metrics, presenters, selectors
from .models import ChatRequest, DeliveredVia, Offer
from .signals import offers_proven


def _locked_sessions() -> QuerySet[ChatRequest]:
    """Requests locked for a change, with the customer and mitra their presenters read."""
    return locked(ChatRequest.objects.select_related("customer", "mitra"))


def lock_session(**lookup: object) -> ChatRequest:
    try:
        return _locked_sessions().get(**lookup)
    except ChatRequest.DoesNotExist:
        raise NotFound() from None


def _lock_offer(mitra: User, session_id: UUID) -> Offer:
    """The mitra's log row for the request, with the request locked. 404 if never notified."""
    session = lock_session(id=session_id)
    try:
        offer = Offer.objects.get(session=session, mitra=mitra)
    except Offer.DoesNotExist:
        raise NotFound() from None
    offer.session = session
    return offer


def _resolve_unanswered(session: ChatRequest, response: str, now: datetime) -> None:
    """Give every still unanswered row of the request its final response."""
    Offer.objects.filter(session=session, response__isnull=True).update(response=response, resolved_at=now)


def _respond(offer: Offer, response: str, now: datetime) -> None:
    """Record this mitra's own answer (accepted or rejected) with its response time. An
    answer proves the offer reached the app and was seen (contract section 12), unless an
    earlier proof did."""
    response_time = (now - offer.notified_at).total_seconds()
    written = Offer.objects.filter(pk=offer.pk, response__isnull=True).update(
        response=response, responded_at=now, response_time_seconds=response_time, resolved_at=now
    )
    if written != 1:  # the session lock makes this unreachable; never overwrite a response
        raise AlreadyResponded(request=presenters.request_view(offer))
    if offer.delivered_at is None:
        delivered = Offer.objects.filter(pk=offer.pk, delivered_at__isnull=True).update(
            delivered_at=now, delivered_via=DeliveredVia.RESPONSE
        )
        metrics.offers_delivered(DeliveredVia.RESPONSE, delivered)
        offer.delivered_at, offer.delivered_via = now, DeliveredVia.RESPONSE
    if offer.seen_at is None:
        if Offer.objects.filter(pk=offer.pk, seen_at__isnull=True).update(seen_at=now):
            metrics.offer_seen()
        offer.seen_at = now
    offer.response = response
    offer.responded_at = now
    offer.response_time_seconds = response_time
    offer.resolved_at = now


def _notified_mitras(session: ChatRequest, exclude_mitra_id: int | None = None) -> list[tuple[dict, list[int]]]:
    """Each notified mitra's view of the request, built once per distinct view.

    Views differ only by the row's response and notified_at, so only those are read;
    the session (locked by the caller) is shared by every view.
    """
    rows = session.offers.exclude(mitra_id=exclude_mitra_id).values_list("mitra_id", "response", "notified_at")
    groups: dict[tuple, list[int]] = defaultdict(list)
    for mitra_id, response, notified_at in rows:
        groups[(response, notified_at)].append(mitra_id)
    now = timezone.now()
    return [
        (presenters.request_view(Offer(session=session, mitra_id=ids[0], response=response,
                                                         notified_at=notified_at), now), ids)
        for (response, notified_at), ids in groups.items()
    ]  # fmt: skip


def _announce_closed(session: ChatRequest, mitra_event: str, customer_event: str, exclude_mitra_id=None) -> None:
    """A request no longer open: the customer's session object, every other notified mitra's view."""
    send_event_on_commit(
        event_type=customer_event, audiences=[(presenters.session_object(session), [session.customer_id])]
    )
    send_event_on_commit(event_type=mitra_event, audiences=_notified_mitras(session, exclude_mitra_id))


def _expire(session: ChatRequest, reason: str, now: datetime) -> None:
    session.status = SessionStatus.EXPIRED
    session.expire_reason = reason
    session.expired_at = now
    session.save(update_fields=["status", "expire_reason", "expired_at"])
    _resolve_unanswered(session, OfferResponse.IGNORED, now)
    _announce_closed(session, "chat_request.expired", "session.expired")


# A create refused by a pending request that is resolved before it is looked at tries again.
CREATE_ATTEMPTS = 3


def _inserted(session: ChatRequest) -> bool:
    """Insert the request; False if the customer's pending one refused it. Without a
    savepoint around an insert that may raise: two round trips fewer on every create."""
    return insert_or_ignore(session)


def _notify_available_mitras(session: ChatRequest, now: datetime) -> list[int]:
    """Write a log row for every available mitra, with its active session count, in one
    INSERT ... SELECT; returns the notified mitra ids.

    One statement whatever the number of mitras: building the rows as model objects for
    bulk_create costs Python time per mitra on every request.
    """
    active_count, statuses = selectors.active_session_count_sql("profile.user_id")
    sql = f"""
        INSERT INTO {Offer._meta.db_table} (session_id, mitra_id, notified_at, active_session_count)
        SELECT %s, profile.user_id, %s, ({active_count})
          FROM {MitraProfile._meta.db_table} AS profile
          JOIN {User._meta.db_table} AS account ON account.id = profile.user_id
         WHERE profile.is_available = %s AND account.is_active = %s AND account.role = %s
        RETURNING mitra_id
    """
    params = [
        ChatRequest._meta.pk.get_db_prep_value(session.id, connection),
        connection.ops.adapt_datetimefield_value(now),
        *statuses,
        True,
        True,
        str(Role.MITRA),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


# --- customer ----------------------------------------------------------------


def _refuse_if_busy() -> None:
    """Past capacity, a request taken now would be offered late, and would make every
    offer after it later still: refuse it, and say when to come back."""
    limit = settings.SHED_BEHIND_SECONDS
    behind = backlog.seconds_behind() if limit > 0 else 0.0
    if behind > limit:
        metrics.request_shed()
        raise Busy(retry_after=max(1, math.ceil(behind)))


def create_chat_request(*, customer: User, duration_minutes: int) -> ChatRequest:
    """Open a request and offer it to every available mitra (one log row each)."""
    _refuse_if_busy()
    config = get_config()
    with changing():
        now = clock.now()
        session = ChatRequest(
            customer=customer,
            duration_minutes=duration_minutes,
            requested_at=now,
            expires_at=now + timedelta(seconds=config.request_timeout_seconds),
        )
        # The insert comes first: the one-pending-request index refuses it when the customer
        # already waits, so a create with nothing pending (nearly all) costs no lookup.
        for _attempt in range(CREATE_ATTEMPTS):
            if _inserted(session):
                break
            existing = _locked_sessions().filter(customer=customer, status=SessionStatus.PENDING).first()
            if existing is None:
                continue  # the one that refused it was resolved since: insert again
            if not is_overdue(existing, now):
                raise RequestAlreadyPending(session=presenters.session_object(existing, now))
            _expire(existing, ExpireReason.TIMEOUT, now)
        else:
            session.save(force_insert=True)  # refused each time by nothing pending: any error is a real one

        mitra_ids = _notify_available_mitras(session, now)
        if mitra_ids:
            # Every row is fresh (notified at the request time, no response): one view for all.
            fresh = Offer(session=session, mitra_id=mitra_ids[0], notified_at=now)
            send_event_on_commit(event_type="chat_request.new", audiences=[(presenters.request_view(fresh), mitra_ids)])
        else:
            session.status = SessionStatus.EXPIRED
            session.expire_reason = ExpireReason.NO_MITRA_AVAILABLE
            session.expired_at = now
            session.save(update_fields=["status", "expire_reason", "expired_at"])
            send_event_on_commit(
                event_type="session.expired", audiences=[(presenters.session_object(session), [customer.id])]
            )
    return session


def cancel_chat_request(*, customer: User, session_id: UUID) -> ChatRequest:
    with expiry_committed():
        session = lock_session(id=session_id, customer=customer)
        now = clock.now()
        if is_overdue(session, now):
            _expire(session, ExpireReason.TIMEOUT, now)
            raise RefuseAfterCommit(lambda: RequestNotPending(session=presenters.session_object(session)))
        if session.status != SessionStatus.PENDING:
            raise RequestNotPending(session=presenters.session_object(session, now))
        session.status = SessionStatus.CANCELLED
        session.cancelled_at = now
        session.save(update_fields=["status", "cancelled_at"])
        _resolve_unanswered(session, OfferResponse.CANCELLED, now)
        _announce_closed(session, "chat_request.cancelled", "session.cancelled")
    return session


# --- mitra -------------------------------------------------------------------


def _lock_answerable(mitra: User, session_id: UUID) -> Offer:
    """The mitra's row, if it may answer now. Raises if it answered already or the request
    is resolved; expires an overdue request and refuses once that has committed."""
    offer = _lock_offer(mitra, session_id)
    session = offer.session
    now = clock.now()
    _refuse_if_settled(offer, now)
    if is_overdue(session, now):
        _expire(session, ExpireReason.TIMEOUT, now)
        raise RefuseAfterCommit(
            lambda: RequestNotPending(request=presenters.request_view(selectors.offer_for_mitra(mitra, session_id)))
        )
    return offer


def _refuse_if_settled(offer: Offer, now: datetime) -> None:
    """Refuse an answer to a request this mitra answered already or that is no longer
    pending. An overdue request is still pending here: only a locked write may expire it."""
    if offer.response in OWN_ANSWERS:
        raise AlreadyResponded(request=presenters.request_view(offer, now))
    if offer.session.status != SessionStatus.PENDING:
        raise RequestNotPending(request=presenters.request_view(offer, now))


def accept_chat_request(*, mitra: User, session_id: UUID) -> Offer:
    """First accept wins: the session row lock orders racing accepts, and every
    other unanswered row becomes `missed` in the same transaction. An accept of a request
    already settled is refused from a plain read first (a status never returns to
    pending): in a storm the late accepts need not queue behind the winner's lock."""
    _refuse_if_settled(selectors.offer_for_mitra(mitra, session_id), timezone.now())
    with expiry_committed():
        offer = _lock_answerable(mitra, session_id)
        session = offer.session
        now = clock.now()
        session.status = SessionStatus.ACTIVE
        session.mitra = mitra
        session.accepted_at = now
        session.ends_at = now + timedelta(minutes=session.duration_minutes)
        session.save(update_fields=["status", "mitra", "accepted_at", "ends_at"])
        _respond(offer, OfferResponse.ACCEPTED, now)
        _resolve_unanswered(session, OfferResponse.MISSED, now)
        # All of the acceptor's sockets (its other devices close the overlay), everyone else's "taken".
        send_event_on_commit(
            event_type="chat_request.accepted", audiences=[(presenters.request_view(offer, now), [mitra.id])]
        )
        _announce_closed(session, "chat_request.taken", "session.accepted", exclude_mitra_id=mitra.id)
    return offer


def decline_chat_request(*, mitra: User, session_id: UUID) -> Offer:
    """Record a rejection; when nobody is left to answer, the request expires at once."""
    with expiry_committed():
        offer = _lock_answerable(mitra, session_id)
        now = clock.now()
        _respond(offer, OfferResponse.REJECTED, now)
        send_event_on_commit(
            event_type="chat_request.declined", audiences=[(presenters.request_view(offer, now), [mitra.id])]
        )
        session = offer.session
        if not session.offers.filter(response__isnull=True).exists():
            _expire(session, ExpireReason.ALL_DECLINED, now)
    return offer


# --- sweep -------------------------------------------------------------------


def expire_overdue_requests(*, now: datetime | None = None) -> list[ChatRequest]:
    """Expire every pending request past `expires_at`; unanswered rows become `ignored`.

    Safe to run concurrently: rows another sweep (or an accept) holds are skipped,
    and a row already expired no longer matches.
    """
    now = now or clock.now()
    overdue = ChatRequest.objects.filter(overdue_requests(now)).select_related("customer", "mitra")
    return sweep(overdue, lambda session: _expire(session, ExpireReason.TIMEOUT, now))


# --- proof of delivery (contract section 11) ------------------------------------------


def mark_delivered(*, mitra: User, session_ids: list[str], via: str) -> int:
    """The offers reached the mitra's app; the first proof wins. Never touches `response`."""
    if not session_ids:
        return 0
    offers = (Offer.objects.filter(mitra=mitra, session_id__in=some) for some in chunks(session_ids))
    return _prove_delivered(offers, via)


def _prove_delivered(offers: Iterable[QuerySet[Offer]], via: str) -> int:
    """Mark the offers not yet proven delivered, once each (the rows are locked: two
    proofs at once count one), and tell the rollups and the staff views once."""
    with transaction.atomic():
        offer_ids, mitra_ids = [], set()
        for some in offers:  # in chunks: an ack may cover more offers than a statement binds
            for offer_id, mitra_id in locked(some.filter(delivered_at__isnull=True)).values_list("id", "mitra_id"):
                offer_ids.append(offer_id)
                mitra_ids.add(mitra_id)
        if not offer_ids:
            return 0
        now = timezone.now()
        for some in chunks(offer_ids):
            Offer.objects.filter(id__in=some).update(delivered_at=now, delivered_via=via)
        offers_proven.send(sender=Offer, offer_ids=offer_ids, delivered=True, seen=False)
        tell_staff_on_commit(what="offer.delivered", user_ids=sorted(mitra_ids))
    metrics.offers_delivered(via, len(offer_ids))
    return len(offer_ids)


# Mitras' acks proven per statement: each costs two parameters in the outbox lookup.
ACKS_PER_STATEMENT = 2000


def mark_acked_many(*, acks: dict[int, int], after: dict[int, int] | None = None) -> int:
    """Mitras' apps handled every frame up to a seq (mitra id → seq): every offer of theirs
    whose `chat_request.new` had a seq up to it is delivered, whichever socket or device
    carried it (an offer a `hello` listed was announced at a seq no greater than the hello's).
    `after` (mitra id → seq) says up to where an earlier ack already proved: only the
    events between are looked at; without it, each mitra's last KEEP_LAST.

    A process's acks are proven together (realtime's ack batcher): per batch, one read of
    the outbox for the offers the acked frames carried, and one update of those offers.
    Neither looks at anything else: a batch that read every unproven offer of its mitras
    grew slower as offers waited, and under load fell behind for good."""
    after = after or {}
    proven = 0
    items = sorted(acks.items())
    for start in range(0, len(items), ACKS_PER_STATEMENT):
        chunk = dict(items[start : start + ACKS_PER_STATEMENT])
        ranges = {
            mitra_id: (after.get(mitra_id, max(0, upto - outbox.KEEP_LAST)), upto) for mitra_id, upto in chunk.items()
        }
        offered = outbox.sessions_offered_upto(
            ranges, since=timezone.now() - outbox.KEEP_FOR, event_type="chat_request.new"
        )
        ids = selectors.unproven_offer_ids(sorted(offered))
        if ids:
            proven += _prove_delivered(
                (Offer.objects.filter(id__in=some) for some in chunks(ids)), DeliveredVia.WEBSOCKET
            )
    return proven


def mark_seen(*, mitra: User, session_id: UUID, via: str = DeliveredVia.POLL) -> Offer:
    """The overlay shows the request: delivered (if nothing proved it before) and seen. Idempotent."""
    offer = selectors.offer_for_mitra(mitra, session_id)
    now = timezone.now()
    with transaction.atomic():
        delivered = Offer.objects.filter(pk=offer.pk, delivered_at__isnull=True).update(
            delivered_at=now, delivered_via=via
        )
        metrics.offers_delivered(via, delivered)
        seen = Offer.objects.filter(pk=offer.pk, seen_at__isnull=True).update(seen_at=now)
        if delivered or seen:
            offers_proven.send(sender=Offer, offer_ids=[offer.pk], delivered=bool(delivered), seen=bool(seen))
        if seen:
            tell_staff_on_commit(what="offer.seen", user_ids=[mitra.id])
            metrics.offer_seen()
    offer.refresh_from_db(fields=["delivered_at", "delivered_via", "seen_at"])
    return offer
