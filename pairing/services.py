"""Every state change of pairing: create, accept, decline, cancel, expire, end, and the
sweep's moves of sessions to closing and closed.

Each runs in one transaction that locks the session row first (then its log rows),
so all of them serialize on the request they touch. Log rows get their response by
a conditional update on `response IS NULL`: written once, never changed after.
Where a call finds the request overdue, it expires it in the same transaction and
commits that before reporting the request as stale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from appconfig.models import RuntimeConfig, get_config

from . import notifications, selectors
from .exceptions import (
    AlreadyResponded,
    EarlyEndDisabled,
    NotFound,
    RequestAlreadyPending,
    RequestNotPending,
    SessionNotActive,
)
from .models import (
    ACTIVE_SESSION_STATUSES,
    ChatRequestNotification,
    ChatSession,
    ClosureInitiator,
    ClosureReason,
    Device,
    ExpireReason,
    MitraProfile,
    NotificationResponse,
    Role,
    SessionClosure,
    SessionStatus,
    User,
)
from .presenters import is_overdue

SWEEP_BATCH_SIZE = 500


# --- helpers -----------------------------------------------------------------


def _after_commit(notify: Callable[..., None], *args) -> None:
    """Tell clients once the change is committed; a failed publish is logged, not raised."""
    transaction.on_commit(partial(notify, *args), robust=True)


def _locked(queryset):
    """Row locks on PostgreSQL; SQLite's IMMEDIATE transactions already serialize writers."""
    return queryset.select_for_update(of=("self",))


def _lock_session(**lookup) -> ChatSession:
    try:
        return _locked(ChatSession.objects.select_related("customer", "mitra")).get(**lookup)
    except ChatSession.DoesNotExist:
        raise NotFound() from None


def _lock_notification(mitra: User, session_id: UUID) -> ChatRequestNotification:
    """The mitra's log row for the request, with the request locked. 404 if never notified."""
    session = _lock_session(id=session_id)
    try:
        notification = ChatRequestNotification.objects.get(session=session, mitra=mitra)
    except ChatRequestNotification.DoesNotExist:
        raise NotFound() from None
    notification.session = session
    return notification


def _resolve_unanswered(session: ChatSession, response: str, now: datetime) -> None:
    """Give every still unanswered row of the request its final response."""
    ChatRequestNotification.objects.filter(session=session, response__isnull=True).update(
        response=response, resolved_at=now
    )


def _respond(notification: ChatRequestNotification, response: str, now: datetime) -> None:
    """Record this mitra's own answer (accepted or rejected) with its response time."""
    response_time = (now - notification.notified_at).total_seconds()
    written = ChatRequestNotification.objects.filter(pk=notification.pk, response__isnull=True).update(
        response=response, responded_at=now, response_time_seconds=response_time, resolved_at=now
    )
    if written != 1:  # the session lock makes this unreachable; never overwrite a response
        raise AlreadyResponded(notification=notification)
    notification.response = response
    notification.responded_at = now
    notification.response_time_seconds = response_time
    notification.resolved_at = now


def _expire(session: ChatSession, reason: str, now: datetime) -> None:
    session.status = SessionStatus.EXPIRED
    session.expire_reason = reason
    session.expired_at = now
    session.save(update_fields=["status", "expire_reason", "expired_at"])
    _resolve_unanswered(session, NotificationResponse.IGNORED, now)
    _after_commit(notifications.request_expired, session)


def _check_can_respond(notification: ChatRequestNotification, now: datetime) -> bool:
    """Raise if the mitra may not answer; return True if the request just timed out.

    A timed-out request is expired here and the caller commits that before raising.
    """
    if notification.response in (NotificationResponse.ACCEPTED, NotificationResponse.REJECTED):
        raise AlreadyResponded(notification=notification)
    session = notification.session
    if is_overdue(session, now):
        _expire(session, ExpireReason.TIMEOUT, now)
        return True
    if session.status != SessionStatus.PENDING:
        raise RequestNotPending(notification=notification)
    return False


def _notify_available_mitras(session: ChatSession, now: datetime) -> list[int]:
    """Write a log row for every available mitra, with its active session count, in one
    INSERT ... SELECT; returns the notified mitra ids.

    One statement whatever the number of mitras: building the rows as model objects
    for bulk_create cost about 60 ms a request at 1,000 mitras.
    """
    ops = connection.ops
    statuses = [str(status) for status in ACTIVE_SESSION_STATUSES]
    sql = f"""
        INSERT INTO {ChatRequestNotification._meta.db_table} (session_id, mitra_id, notified_at, active_session_count)
        SELECT %s, profile.user_id, %s,
               (SELECT COUNT(*) FROM {ChatSession._meta.db_table} AS s
                 WHERE s.mitra_id = profile.user_id AND s.status IN ({", ".join(["%s"] * len(statuses))}))
          FROM {MitraProfile._meta.db_table} AS profile
          JOIN {User._meta.db_table} AS account ON account.id = profile.user_id
         WHERE profile.is_available = %s AND account.is_active = %s AND account.role = %s
        RETURNING mitra_id
    """
    params = [
        ChatSession._meta.pk.get_db_prep_value(session.id, connection),
        ops.adapt_datetimefield_value(now),
        *statuses,
        True,
        True,
        str(Role.MITRA),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


# --- customer ----------------------------------------------------------------


def create_chat_request(customer: User, duration_minutes: int) -> ChatSession:
    """Open a request and notify every available mitra (one log row each)."""
    config = get_config()
    with transaction.atomic():
        now = timezone.now()
        existing = _locked(ChatSession.objects.filter(customer=customer, status=SessionStatus.PENDING)).first()
        if existing is not None:
            if not is_overdue(existing, now):
                raise RequestAlreadyPending(session=existing)
            _expire(existing, ExpireReason.TIMEOUT, now)

        session = ChatSession(
            customer=customer,
            duration_minutes=duration_minutes,
            requested_at=now,
            expires_at=now + timedelta(seconds=config.request_timeout_seconds),
        )
        try:
            with transaction.atomic():
                session.save(force_insert=True)
        except IntegrityError:
            # A concurrent create by the same customer committed first.
            winner = ChatSession.objects.filter(customer=customer, status=SessionStatus.PENDING).first()
            raise RequestAlreadyPending(session=winner) from None

        mitra_ids = _notify_available_mitras(session, now)
        if not mitra_ids:
            session.status = SessionStatus.EXPIRED
            session.expire_reason = ExpireReason.NO_MITRA_AVAILABLE
            session.expired_at = now
            session.save(update_fields=["status", "expire_reason", "expired_at"])
        _after_commit(notifications.request_created, session, mitra_ids)
    return session


def cancel_chat_request(customer: User, session_id: UUID) -> ChatSession:
    with transaction.atomic():
        session = _lock_session(id=session_id, customer=customer)
        now = timezone.now()
        timed_out = is_overdue(session, now)
        if timed_out:
            _expire(session, ExpireReason.TIMEOUT, now)
        elif session.status != SessionStatus.PENDING:
            raise RequestNotPending(session=session)
        else:
            session.status = SessionStatus.CANCELLED
            session.cancelled_at = now
            session.save(update_fields=["status", "cancelled_at"])
            _resolve_unanswered(session, NotificationResponse.CANCELLED, now)
            _after_commit(notifications.request_cancelled, session)
    if timed_out:
        raise RequestNotPending(session=session)
    return session


# --- mitra -------------------------------------------------------------------


def accept_chat_request(mitra: User, session_id: UUID) -> ChatRequestNotification:
    """First accept wins: the session row lock orders racing accepts, and every
    other unanswered row becomes `missed` in the same transaction."""
    with transaction.atomic():
        notification = _lock_notification(mitra, session_id)
        now = timezone.now()
        timed_out = _check_can_respond(notification, now)
        if not timed_out:
            session = notification.session
            session.status = SessionStatus.ACTIVE
            session.mitra = mitra
            session.accepted_at = now
            session.ends_at = now + timedelta(minutes=session.duration_minutes)
            session.save(update_fields=["status", "mitra", "accepted_at", "ends_at"])
            _respond(notification, NotificationResponse.ACCEPTED, now)
            _resolve_unanswered(session, NotificationResponse.MISSED, now)
            _after_commit(notifications.request_accepted, notification)
    if timed_out:
        raise RequestNotPending(notification=selectors.notification_for_mitra(mitra, session_id))
    return notification


def decline_chat_request(mitra: User, session_id: UUID) -> ChatRequestNotification:
    """Record a rejection; when nobody is left to answer, the request expires at once."""
    with transaction.atomic():
        notification = _lock_notification(mitra, session_id)
        now = timezone.now()
        timed_out = _check_can_respond(notification, now)
        if not timed_out:
            _respond(notification, NotificationResponse.REJECTED, now)
            _after_commit(notifications.request_declined, notification)
            session = notification.session
            if not session.notifications.filter(response__isnull=True).exists():
                _expire(session, ExpireReason.ALL_DECLINED, now)
    if timed_out:
        raise RequestNotPending(notification=selectors.notification_for_mitra(mitra, session_id))
    return notification


def set_mitra_availability(mitra: User, is_available: bool) -> MitraProfile:
    profile, _ = MitraProfile.objects.get_or_create(user=mitra)
    if profile.is_available != is_available:
        profile.is_available = is_available
        profile.save(update_fields=["is_available"])
    return profile


# --- sessions ----------------------------------------------------------------

RUNNING_STATUSES = (SessionStatus.ACTIVE, SessionStatus.EXTENDING)


def _start_closing(session: ChatSession, closure: SessionClosure, now: datetime, grace_seconds: int) -> None:
    session.status = SessionStatus.CLOSING
    session.closing_started_at = now
    session.grace_ends_at = now + timedelta(seconds=grace_seconds)
    session.save(update_fields=["status", "closing_started_at", "grace_ends_at"])
    closure.session = session
    closure.created_at = now
    closure.save(force_insert=True)
    _after_commit(notifications.session_changed, session, "session.closing")


def _time_up(session: ChatSession, now: datetime, grace_seconds: int) -> None:
    closure = SessionClosure(initiated_by=ClosureInitiator.SYSTEM, reason_code=ClosureReason.TIME_UP)
    _start_closing(session, closure, now, grace_seconds)


def require_early_end_enabled() -> RuntimeConfig:
    """The config, if mitras may end sessions early now; 403 early_end_disabled if not."""
    config = get_config()
    if not config.early_end_mitra_enabled:
        raise EarlyEndDisabled()
    return config


def end_session_early(mitra: User, session_id: UUID, reason_code: str, reason_note: str) -> ChatSession:
    """A mitra ends its session before time: closing now, with the reason recorded.

    Allowed only while staff have enabled it (read now, so a toggle counts at once).
    Past the day's cap the end still happens, and is flagged for review.
    """
    config = require_early_end_enabled()
    with transaction.atomic():
        session = _lock_session(id=session_id, mitra=mitra)
        # One mitra's early ends queue here, so two at once cannot both slip under the cap.
        _locked(MitraProfile.objects.filter(user=mitra)).first()
        now = timezone.now()
        timed_out = session.status in RUNNING_STATUSES and session.ends_at is not None and now >= session.ends_at
        if timed_out:
            _time_up(session, now, config.closing_grace_seconds)
        elif session.status not in RUNNING_STATUSES:
            raise SessionNotActive(session=session)
        else:
            earlier_today = selectors.early_ends_on_day(mitra, timezone.localdate(now))
            closure = SessionClosure(
                initiated_by=ClosureInitiator.MITRA,
                initiator=mitra,
                reason_code=reason_code,
                reason_note=reason_note,
                needs_review=earlier_today >= config.early_end_mitra_daily_cap,
            )
            _start_closing(session, closure, now, config.closing_grace_seconds)
    if timed_out:
        raise SessionNotActive(session=session)
    return session


def advance_sessions(now: datetime | None = None) -> tuple[list[ChatSession], list[ChatSession]]:
    """Sessions past `ends_at` start closing (time_up); closing ones past their grace close.

    Idempotent and safe to run concurrently, like the request sweep.
    """
    now = now or timezone.now()
    grace_seconds = get_config().closing_grace_seconds
    started = _sweep(
        ChatSession.objects.filter(status__in=RUNNING_STATUSES, ends_at__lte=now),
        lambda session: _time_up(session, now, grace_seconds),
    )
    closed = _sweep(
        ChatSession.objects.filter(status=SessionStatus.CLOSING, grace_ends_at__lte=now),
        lambda session: _close(session, now),
    )
    return started, closed


def _close(session: ChatSession, now: datetime) -> None:
    session.status = SessionStatus.CLOSED
    session.closed_at = now
    session.save(update_fields=["status", "closed_at"])
    _after_commit(notifications.session_changed, session, "session.closed")


def _sweep(due, apply: Callable[[ChatSession], None]) -> list[ChatSession]:
    """Apply a change to every due session in batches, skipping rows others hold."""
    done: list[ChatSession] = []
    while True:
        with transaction.atomic():
            queryset = due.select_related("customer", "mitra").order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                queryset = queryset.select_for_update(skip_locked=True, of=("self",))
            batch = list(queryset[:SWEEP_BATCH_SIZE])
            for session in batch:
                apply(session)
        done.extend(batch)
        if len(batch) < SWEEP_BATCH_SIZE:
            return done


# --- sweep -------------------------------------------------------------------


def expire_overdue_requests(now: datetime | None = None) -> list[ChatSession]:
    """Expire every pending request past `expires_at`; unanswered rows become `ignored`.

    Safe to run concurrently: rows another sweep (or an accept) holds are skipped,
    and a row already expired no longer matches.
    """
    now = now or timezone.now()
    overdue = ChatSession.objects.filter(status=SessionStatus.PENDING, expires_at__lte=now)
    return _sweep(overdue, lambda session: _expire(session, ExpireReason.TIMEOUT, now))


# --- devices -----------------------------------------------------------------


def register_device(user: User, token: str, platform: str) -> tuple[Device, bool]:
    """Register an FCM token to `user`; returns (device, newly this user's)."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                device = _locked(Device.objects.filter(token=token)).first()
                if device is None:
                    return Device.objects.create(user=user, token=token, platform=platform), True
                is_new_for_user = device.user_id != user.id
                device.user = user
                device.platform = platform
                device.is_active = True
                device.deactivated_reason = ""
                device.save()
                return device, is_new_for_user
        except IntegrityError:
            if attempt:  # pragma: no cover - a second concurrent insert of the same token
                raise
    raise AssertionError("unreachable")


def unregister_device(user: User, token: str) -> None:
    deleted, _ = Device.objects.filter(user=user, token=token).delete()
    if not deleted:
        raise NotFound()
