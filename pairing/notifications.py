"""Who is told what after a pairing state change commits: sockets first, then pushes.

Services register these with `transaction.on_commit(..., robust=True)`: an event
that cannot be published is logged, never turned into an error for a change that
has already committed (everything an event says can be read over REST).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from . import events, presence
from .models import ChatRequestNotification, ChatSession
from .presenters import request_view, session_object


def _stale_audiences(session: ChatSession, exclude_mitra_id: int | None) -> list[tuple[dict, list[int]]]:
    """Each notified mitra's view of a resolved request, built once per distinct view.

    Views differ only by the row's response and notified_at, so only those are read;
    the session (already loaded by the caller) is shared by every view.
    """
    rows = session.notifications.exclude(mitra_id=exclude_mitra_id).values_list("mitra_id", "response", "notified_at")
    groups: dict[tuple, list[int]] = defaultdict(list)
    for mitra_id, response, notified_at in rows:
        groups[(response, notified_at)].append(mitra_id)
    return [
        (request_view(ChatRequestNotification(session=session, mitra_id=ids[0], response=response,
                                              notified_at=notified_at)), ids)
        for (response, notified_at), ids in groups.items()
    ]  # fmt: skip


def _to_one(group: str, user_id: int, event: str, data: Any) -> tuple[str, dict]:
    """A send of one event to all of one user's sockets."""
    return group, events.message(event, [(data, [user_id])])


def _customer_send(session: ChatSession, event: str) -> tuple[str, dict]:
    return _to_one(events.customer_group(session.customer_id), session.customer_id, event, session_object(session))


def _mitra_send(notification: ChatRequestNotification, event: str) -> tuple[str, dict]:
    """The responding mitra's own view, to all of its sockets (its other devices close the overlay)."""
    mitra_id = notification.mitra_id
    return _to_one(events.mitra_group(mitra_id), mitra_id, event, request_view(notification))


def request_created(session: ChatSession, mitra_ids: list[int]) -> None:
    from . import tasks

    if not mitra_ids:
        events.publish([_customer_send(session, "session.expired")])
        return
    # Every row is fresh (notified at the request time, no response), so every mitra's
    # view is the same: build it once from a row as written.
    fresh = ChatRequestNotification(session=session, mitra_id=mitra_ids[0], notified_at=session.requested_at)
    view = request_view(fresh)
    events.publish([(events.MITRAS_GROUP, events.message("chat_request.new", [(view, mitra_ids)]))])
    offline = sorted(set(mitra_ids) - presence.online_mitra_ids(mitra_ids))
    if offline:
        tasks.push_new_request.delay(str(session.id), offline)


def request_accepted(notification: ChatRequestNotification) -> None:
    from . import tasks

    session = notification.session
    events.publish(
        [
            _mitra_send(notification, "chat_request.accepted"),
            (events.MITRAS_GROUP,
             events.message("chat_request.taken", _stale_audiences(session, notification.mitra_id))),
            _customer_send(session, "session.accepted"),
        ]
    )  # fmt: skip
    tasks.push_request_withdrawn.delay(str(session.id))


def request_declined(notification: ChatRequestNotification) -> None:
    events.publish([_mitra_send(notification, "chat_request.declined")])


def request_cancelled(session: ChatSession) -> None:
    _request_closed(session, "chat_request.cancelled", "session.cancelled")


def request_expired(session: ChatSession) -> None:
    _request_closed(session, "chat_request.expired", "session.expired")


def _request_closed(session: ChatSession, mitra_event: str, customer_event: str) -> None:
    from . import tasks

    audiences = _stale_audiences(session, None)
    sends = [_customer_send(session, customer_event)]
    if audiences:
        sends.append((events.MITRAS_GROUP, events.message(mitra_event, audiences)))
        tasks.push_request_withdrawn.delay(str(session.id))
    events.publish(sends)


def session_changed(session: ChatSession, event: str) -> None:
    """session.closing / session.closed, to the session's mitra and customer."""
    data = session_object(session)
    sends = [_to_one(events.customer_group(session.customer_id), session.customer_id, event, data)]
    if session.mitra_id:
        sends.append(_to_one(events.mitra_group(session.mitra_id), session.mitra_id, event, data))
    events.publish(sends)
