"""Every state change of a session after the accept: a mitra's early end, and the
sweep's moves to closing (time up) and closed (grace over).

Each locks the session row first, like the request changes, and announces
`session.closing` / `session.closed` to both sides in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from appconfig.models import RuntimeConfig, get_config
from common.errors import NotFound

from .. import clock
from ..accounts.models import MitraProfile, User
from ..errors import AlreadyReviewed, EarlyEndDisabled, SessionNotActive
from ..events.bus import send_event_on_commit
from ..lifecycle import RUNNING_STATUSES, SessionStatus, is_time_up, sessions_grace_over, sessions_time_up
from ..locking import RefuseAfterCommit, expiry_committed, locked, sweep
from ..requests import presenters
from ..requests.models import ChatRequest
from ..requests.services import lock_session
from . import selectors
from .models import ClosureInitiator, ClosureReason, SessionClosure


def _announce(session: ChatRequest, event_type: str) -> None:
    """session.closing / session.closed, to the session's customer and mitra."""
    recipients = [session.customer_id, *([session.mitra_id] if session.mitra_id else [])]
    send_event_on_commit(event_type=event_type, audiences=[(presenters.session_object(session), recipients)])


def _start_closing(session: ChatRequest, closure: SessionClosure, now: datetime, grace_seconds: int) -> None:
    session.status = SessionStatus.CLOSING
    session.closing_started_at = now
    session.grace_ends_at = now + timedelta(seconds=grace_seconds)
    session.save(update_fields=["status", "closing_started_at", "grace_ends_at"])
    closure.session = session
    closure.created_at = now
    closure.save(force_insert=True)
    _announce(session, "session.closing")


def _time_up(session: ChatRequest, now: datetime, grace_seconds: int) -> None:
    closure = SessionClosure(initiated_by=ClosureInitiator.SYSTEM, reason_code=ClosureReason.TIME_UP)
    _start_closing(session, closure, now, grace_seconds)


def _close(session: ChatRequest, now: datetime) -> None:
    session.status = SessionStatus.CLOSED
    session.closed_at = now
    session.save(update_fields=["status", "closed_at"])
    _announce(session, "session.closed")


def require_early_end_enabled() -> RuntimeConfig:
    """The config, if mitras may end sessions early now; 403 early_end_disabled if not."""
    config = get_config()
    if not config.early_end_mitra_enabled:
        raise EarlyEndDisabled()
    return config


def end_session_early(*, mitra: User, session_id: UUID, reason_code: str, reason_note: str) -> ChatRequest:
    """A mitra ends its session before time: closing now, with the reason recorded.

    Allowed only while staff have enabled it (read now, so a toggle counts at once).
    Past the day's cap the end still happens, and is flagged for review. An end that
    arrives after `ends_at` but before the sweep is the system's time_up close.
    """
    config = require_early_end_enabled()
    with expiry_committed():
        session = lock_session(id=session_id, mitra=mitra)
        # One mitra's early ends queue here, so two at once cannot both slip under the cap.
        locked(MitraProfile.objects.filter(user=mitra)).first()
        now = clock.now()
        if is_time_up(session, now):
            _time_up(session, now, config.closing_grace_seconds)
            raise RefuseAfterCommit(lambda: SessionNotActive(session=presenters.session_object(session)))
        if session.status not in RUNNING_STATUSES:
            raise SessionNotActive(session=presenters.session_object(session, now))
        earlier_today = selectors.early_ends_on_day(mitra, timezone.localdate(now))
        closure = SessionClosure(
            initiated_by=ClosureInitiator.MITRA,
            initiator=mitra,
            reason_code=reason_code,
            reason_note=reason_note,
            needs_review=earlier_today >= config.early_end_mitra_daily_cap,
        )
        _start_closing(session, closure, now, config.closing_grace_seconds)
    return session


def advance_sessions(*, now: datetime | None = None) -> tuple[list[ChatRequest], list[ChatRequest]]:
    """Sessions past `ends_at` start closing (time_up); closing ones past their grace close.

    Idempotent and safe to run concurrently, like the request sweep.
    """
    now = now or clock.now()
    grace_seconds = get_config().closing_grace_seconds
    sessions = ChatRequest.objects.select_related("customer", "mitra")
    started = sweep(sessions.filter(sessions_time_up(now)), lambda session: _time_up(session, now, grace_seconds))
    closed = sweep(sessions.filter(sessions_grace_over(now)), lambda session: _close(session, now))
    return started, closed


def review_closure(*, closure_id: int, staff: User, note: str) -> SessionClosure:
    """Staff mark a force-close reviewed, once: who, when and what they concluded."""
    with transaction.atomic():
        closure = SessionClosure.objects.select_for_update().filter(id=closure_id).first()
        if closure is None:
            raise NotFound()
        if closure.reviewed_at is not None:
            raise AlreadyReviewed()
        closure.reviewed_at, closure.reviewed_by, closure.review_note = timezone.now(), staff, note.strip()
        closure.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
    return closure
