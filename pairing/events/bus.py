"""The one call a state change makes to say what happened and to whom.

    with changing():                       # the service's transaction
        ...
        send_event_on_commit(event_type="chat_request.new", audiences=[(view, mitra_ids)])

Each audience is the data some users get (a mitra's view of a request differs by its
own response, so one event can carry several). The events of a transaction are written
to the outbox just before it commits (`outbox.write`): each recipient gets the next
number of its own counter, all counters of the transaction taken in one statement in
user order, so two transactions never deadlock on them. After commit every subscriber
(sockets, push) is handed each event on the process's dispatch thread (`dispatcher`),
which the caller waits for only briefly; a subscriber that fails is logged, never turns
a committed change into an error, and the relay hands the event over again later.
Subscribers are connected in `PairingConfig.ready`: a new audience is one new subscriber.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import outbox
from .dispatcher import dispatcher
from .event import Audience, Event, encode

__all__ = [
    "Audience", "Event", "changing", "dispatch", "encode", "send_event_on_commit", "subscribe", "tell_staff_on_commit",
    "watch_for_staff",
]  # fmt: skip

logger = logging.getLogger(__name__)


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []
StaffWatcher = Callable[[str, tuple[int, ...]], None]
_staff_watchers: list[StaffWatcher] = []
_pending = threading.local()


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def watch_for_staff(watcher: StaffWatcher) -> None:
    """`watcher(what, user_ids)` runs after every change only staff watch
    (`tell_staff_on_commit`); committed events reach staff through their subscribers
    (realtime's publish)."""
    if watcher not in _staff_watchers:
        _staff_watchers.append(watcher)


def tell_staff_on_commit(*, what: str, user_ids: Iterable[int]) -> None:
    """A change no user gets an event for but the staff live view shows (an offer
    delivered or seen, a mitra's availability), and whose it is: no seq, nothing to
    replay; the live view reads those users' part of its state again."""
    ids = tuple(sorted(set(user_ids)))
    transaction.on_commit(lambda: dispatcher.run(lambda: _tell_staff(what, ids)))


def _tell_staff(what: str, user_ids: tuple[int, ...]) -> None:
    for watcher in _staff_watchers:
        try:
            watcher(what, user_ids)
        except Exception:  # the live view is a convenience: it reads the state again on its next change
            logger.warning("could not tell staff of %s", what, exc_info=True)


@contextmanager
def changing() -> Iterator[None]:
    """The transaction of a state change: its events are numbered and written to the
    outbox at the end of the outermost block, then dispatched after commit."""
    if getattr(_pending, "events", None) is not None:
        with transaction.atomic():  # nested: the outermost block writes the events
            yield
        return
    _pending.events = []
    try:
        with transaction.atomic():
            yield
            events, _pending.events = _pending.events, None
            if events:
                outbox.write(events, timezone.now())
                transaction.on_commit(lambda: dispatcher.run(lambda: dispatch_all(events)))
    finally:
        _pending.events = None


def send_event_on_commit(*, event_type: str, audiences: Iterable[tuple[dict[str, Any], Iterable[int]]]) -> None:
    """Announce an event to users once the current change commits."""
    built = [Audience(data, encode(data), tuple(sorted(set(ids)))) for data, ids in audiences]
    built = [audience for audience in built if audience.user_ids]
    if not built:
        return
    if getattr(_pending, "events", None) is None:
        raise RuntimeError("send_event_on_commit outside a change: wrap the service in events.bus.changing()")
    _pending.events.append(Event(event_type, built))


def dispatch(event: Event) -> bool:
    """Hand a committed event to every subscriber; True if all of them took it."""
    delivered = True
    for subscriber in _subscribers:
        try:
            subscriber(event)
        except Exception:
            delivered = False
            logger.exception("event %s #%s: %s failed", event.type, event.batch_id, subscriber.__qualname__)
    return delivered


def dispatch_all(events: list[Event]) -> None:
    done = [event.batch_id for event in events if dispatch(event)]
    try:
        outbox.mark_dispatched(done)
    except Exception:  # the change committed: the relay will hand these over again, harmlessly
        logger.exception("could not mark %d events dispatched", len(done))
