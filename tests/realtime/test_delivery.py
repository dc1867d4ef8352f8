"""Delivery you can prove (contract section 11): seq, resume, polling, heartbeat, acks and
seen/, catch-up after a lost publish, and a committed change with Redis unreachable.

Real database, real Redis channel layer, real sockets through channels' communicator.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from pairing.events import bus, outbox
from pairing.events.models import EventBatch, UserEvent
from pairing.events.outbox import KEEP_LAST, prune
from pairing.events.tasks import relay_events
from pairing.models import Offer
from pairing.realtime import delivery, hub, publisher
from pairing.requests.services import (
    accept_chat_request,
    cancel_chat_request,
    create_chat_request,
    decline_chat_request,
    mark_seen,
)
from tests.support import TIMEOUT, account, call, create_request, mitra_socket, next_frame, ws

pytestmark = pytest.mark.django_db(transaction=True)


async def frames_until_silent(comm, wait: float = 0.5) -> list[dict]:
    frames = []
    while not await comm.receive_nothing(timeout=wait):
        frames.append(await comm.receive_json_from(TIMEOUT))
    return frames


async def test_every_event_carries_the_next_seq_of_its_user():
    mitra, customer = await account("mitra"), await account("customer")
    comm = await ws("/ws/mitra/", mitra.token)
    assert (await next_frame(comm, "hello"))["seq"] == 0  # a new account's latest seq is 0
    first = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    await call(cancel_chat_request)(customer=customer.user, session_id=first.id)
    second = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    await call(decline_chat_request)(mitra=mitra.user, session_id=second.id)
    frames = [await next_frame(comm) for _ in range(5)]
    assert [(f["type"], f["seq"]) for f in frames] == [
        ("chat_request.new", 1), ("chat_request.cancelled", 2), ("chat_request.new", 3),
        ("chat_request.declined", 4), ("chat_request.expired", 5),  # all declined
    ]  # fmt: skip
    await comm.send_json_to({"type": "ping"})
    assert await next_frame(comm) == {"type": "pong"}  # no seq on pong
    await comm.disconnect()


async def test_resume_replays_what_was_missed_in_order_without_hello():
    mitra, customer = await account("mitra"), await account("customer")
    comm = await mitra_socket(mitra)
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    assert (await next_frame(comm, "chat_request.new"))["seq"] == 1
    await comm.disconnect()
    # While the app is away: the customer cancels, asks again.
    await call(cancel_chat_request)(customer=customer.user, session_id=session.id)
    again = await call(create_chat_request)(customer=customer.user, duration_minutes=20)
    comm = await ws("/ws/mitra/?since=1", mitra.token)
    frames = await frames_until_silent(comm)
    assert [(f["type"], f["seq"]) for f in frames] == [("chat_request.cancelled", 2), ("chat_request.new", 3)]
    assert frames[1]["data"]["session_id"] == str(again.id)
    # Then live events follow, each once.
    await call(cancel_chat_request)(customer=customer.user, session_id=again.id)
    assert [(f["type"], f["seq"]) for f in await frames_until_silent(comm)] == [("chat_request.cancelled", 4)]
    await comm.disconnect()


@pytest.mark.parametrize("since", ["7", "-1", "x", ""])
async def test_a_bad_or_future_since_gets_a_resync_hello(since):
    mitra, customer = await account("mitra"), await account("customer")
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    comm = await ws(f"/ws/mitra/?since={since}", mitra.token)
    hello = await next_frame(comm, "hello")
    assert hello["resync"] is True and hello["seq"] == 1
    assert [v["session_id"] for v in hello["data"]["pending"]] == [str(session.id)]
    await comm.disconnect()


async def test_a_gap_past_retention_gets_a_resync_with_a_correct_snapshot():
    mitra, customer = await account("mitra"), await account("customer")
    for _ in range(3):
        session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
        await call(cancel_chat_request)(customer=customer.user, session_id=session.id)
    waiting = await call(create_chat_request)(customer=customer.user, duration_minutes=15)
    # As if the first events were older than the outbox keeps.
    await call(lambda: UserEvent.objects.filter(user=mitra.user, seq__lte=2).delete())()
    comm = await ws("/ws/mitra/?since=1", mitra.token)
    hello = await next_frame(comm, "hello")
    assert (hello["resync"], hello["seq"]) == (True, 7)
    assert [v["session_id"] for v in hello["data"]["pending"]] == [str(waiting.id)]
    # Polling says the same.
    body = await call(lambda: mitra.get("/api/events/?since=1").json())()
    assert (body["events"], body["seq"], body["resync"]) == ([], 7, True)
    assert [v["session_id"] for v in body["snapshot"]["pending"]] == [str(waiting.id)]
    await comm.disconnect()


async def test_polling_returns_the_socket_frames():
    mitra, customer = await account("mitra"), await account("customer")
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    await call(accept_chat_request)(mitra=mitra.user, session_id=session.id)
    body = await call(lambda: mitra.get("/api/events/?since=0").json())()
    assert body["seq"] == 2 and body["resync"] is False
    assert [(f["type"], f["seq"]) for f in body["events"]] == [("chat_request.new", 1), ("chat_request.accepted", 2)]
    assert body["events"][1]["data"]["status"] == "accepted"
    assert (await call(lambda: mitra.get("/api/events/?since=2").json())())["events"] == []
    customer_body = await call(lambda: customer.get("/api/events/?since=0").json())()
    assert [f["type"] for f in customer_body["events"]] == ["session.accepted"]
    for bad in ("", "-1", "1.5", "abc", "%00"):
        response = await call(lambda bad=bad: mitra.get(f"/api/events/?since={bad}"))()
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert (await call(lambda: mitra.get("/api/events/"))()).status_code == 400


@override_settings(EVENTS_HEARTBEAT_SECONDS=0.5, EVENTS_CATCH_UP_SECONDS=0.3)
async def test_a_quiet_socket_gets_heartbeats_with_the_latest_seq():
    mitra, customer = await account("mitra"), await account("customer")
    comm = await mitra_socket(mitra)
    await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    await next_frame(comm, "chat_request.new")
    heartbeat = await comm.receive_json_from(3)
    assert heartbeat == {"type": "heartbeat", "seq": 1}
    await comm.disconnect()


@override_settings(EVENTS_CATCH_UP_SECONDS=0.3, EVENTS_RELAY_AFTER_SECONDS=0)
async def test_an_event_whose_publish_was_lost_still_reaches_the_socket(monkeypatch):
    mitra, customer = await account("mitra"), await account("customer")
    comm = await mitra_socket(mitra)

    def redis_down(event):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(bus, "_subscribers", [redis_down])
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    assert await call(lambda: EventBatch.objects.get().dispatched_at)() is None  # left for the relay
    frame = await comm.receive_json_from(5)  # the process's hub found the socket behind
    assert (frame["type"], frame["seq"], frame["data"]["session_id"]) == ("chat_request.new", 1, str(session.id))
    monkeypatch.setattr(bus, "_subscribers", [publisher.publish])
    assert await call(relay_events.apply)() is not None
    await asyncio.sleep(0.5)
    assert await comm.receive_nothing(timeout=0.5)  # the relay's copy is dropped: each event once
    assert await call(lambda: EventBatch.objects.get().dispatched_at is not None)()
    await comm.disconnect()


def _count_passes(monkeypatch) -> list[str]:
    """The session ids of the broadcasts the hub hands to this loop's sockets, one entry a pass."""
    passes: list[str] = []
    real_deliver = hub.deliver

    async def counted(loop, message):
        passes.append(message.get("session_id"))
        await real_deliver(loop, message)

    monkeypatch.setattr(hub, "deliver", counted)
    return passes


async def test_a_broadcast_from_this_process_reaches_its_sockets_in_one_pass(monkeypatch):
    """A request thread's fan-out reaches the sockets of its own process once, in the order
    Redis passes broadcasts to every process."""
    mitras = [await account("mitra") for _ in range(delivery.DIRECT_RECIPIENTS + 1)]  # a broadcast, not direct
    customer = await account("customer")
    sockets = [await mitra_socket(mitra) for mitra in mitras]
    passes = _count_passes(monkeypatch)
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    for comm in sockets:
        frame = await next_frame(comm, "chat_request.new")
        assert (frame["seq"], frame["data"]["session_id"]) == (1, str(session.id))
    await asyncio.sleep(0.5)  # time for any second copy
    for comm in sockets:
        assert await comm.receive_nothing(timeout=0.1)
    assert passes.count(str(session.id)) == 1
    assert await call(lambda: EventBatch.objects.filter(dispatched_at__isnull=True).count())() == 0
    for comm in sockets:
        await comm.disconnect()


@override_settings(EVENTS_CATCH_UP_SECONDS=30)  # no catch-up tick during the test: only the hand-over
async def test_a_broadcast_reaches_this_processs_sockets_live_when_its_publish_fails(monkeypatch):
    mitras = [await account("mitra") for _ in range(delivery.DIRECT_RECIPIENTS + 1)]
    customer = await account("customer")
    sockets = [await mitra_socket(mitra) for mitra in mitras]
    layer = get_channel_layer()

    async def redis_down(group, message):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(layer, "group_send", redis_down, raising=False)
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    for comm in sockets:
        frame = await comm.receive_json_from(1)  # live, well before any tick
        assert (frame["type"], frame["seq"], frame["data"]["session_id"]) == ("chat_request.new", 1, str(session.id))
    assert await call(lambda: EventBatch.objects.get().dispatched_at)() is None  # left for the relay
    monkeypatch.undo()
    await call(relay_events.apply)()
    for comm in sockets:
        assert await comm.receive_nothing(timeout=0.3)  # the relay's copy is dropped: each event once
        await comm.disconnect()


async def test_the_sockets_loop_never_publishes_through_itself():
    """Sync code on a sockets' loop thread (a blocking call there, which would wait for that
    very loop) publishes through the publisher's own loop instead."""
    mitra = await account("mitra")
    comm = await mitra_socket(mitra)
    loop = asyncio.get_running_loop()
    assert hub.serving_loop() is None  # called on the loop's own thread
    assert await asyncio.to_thread(hub.serving_loop) is loop  # a request thread's view
    await comm.disconnect()


async def test_an_ack_proves_delivery_once_and_never_changes_the_response():
    mitra, customer = await account("mitra"), await account("customer")
    waiting = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    comm = await mitra_socket(mitra)  # hello (seq 1) lists `waiting`
    other = await account("customer")
    live = await call(create_chat_request)(customer=other.user, duration_minutes=10)
    assert (await next_frame(comm, "chat_request.new"))["seq"] == 2

    def row(session):
        return Offer.objects.values("delivered_at", "delivered_via", "seen_at", "response").get(
            session=session, mitra=mitra.user
        )

    await comm.send_json_to({"type": "ack", "seq": 1})
    await asyncio.sleep(0.2)
    assert (await call(row)(waiting))["delivered_via"] == "websocket"
    assert (await call(row)(live))["delivered_at"] is None  # frame 2 not acked yet
    for bad in ({"type": "ack", "seq": 3}, {"type": "ack", "seq": -1}, {"type": "ack", "seq": "2"}, {"type": "ack"}):
        await comm.send_json_to(bad)
        assert await next_frame(comm) == {"type": "error", "data": {"code": "bad_frame"}}
    assert (await call(row)(live))["delivered_at"] is None  # a bad ack records nothing
    await call(cancel_chat_request)(customer=other.user, session_id=live.id)
    await next_frame(comm, "chat_request.cancelled")
    first = await call(row)(waiting)
    await comm.send_json_to({"type": "ack", "seq": 3})  # late: after the request was resolved
    await asyncio.sleep(0.2)
    acked = await call(row)(live)
    assert acked["delivered_via"] == "websocket" and acked["response"] == "cancelled"
    assert await call(row)(waiting) == first  # written once
    await comm.disconnect()


async def test_an_ack_on_a_new_socket_proves_an_offer_sent_on_one_that_dropped():
    """Acks are the user's (contract section 12): the app got frame 1 on a socket that then
    dropped, resumed on a new one, and acks 1 there."""
    mitra, customer = await account("mitra"), await account("customer")
    first = await mitra_socket(mitra)
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    assert (await next_frame(first, "chat_request.new"))["seq"] == 1
    await first.disconnect()  # dropped before the app could ack
    second = await ws("/ws/mitra/?since=1", mitra.token)
    assert await second.receive_nothing(timeout=0.3)  # nothing after 1 to replay
    await second.send_json_to({"type": "ack", "seq": 1})
    await asyncio.sleep(0.2)
    offer = await call(Offer.objects.values("delivered_via", "response").get)(session=session, mitra=mitra.user)
    assert offer == {"delivered_via": "websocket", "response": None}
    await second.disconnect()


@pytest.mark.parametrize("answer", [accept_chat_request, decline_chat_request])
def test_an_answer_proves_delivery_and_sight(answer, make_customer, make_mitra):
    mitra, proven, customer = make_mitra(), make_mitra(), make_customer()
    session = create_chat_request(customer=customer.user, duration_minutes=10)
    before = timezone.now()
    mark_seen(mitra=proven.user, session_id=session.id, via="push")
    answer(mitra=mitra.user, session_id=session.id)
    answered = Offer.objects.get(session=session, mitra=mitra.user)
    assert (answered.delivered_via, answered.delivered_at, answered.seen_at) == (
        "response",
        answered.responded_at,
        answered.responded_at,
    )
    if answer is decline_chat_request:  # an earlier proof stays as it was
        decline_chat_request(mitra=proven.user, session_id=session.id)
        kept = Offer.objects.get(session=session, mitra=proven.user)
        assert kept.delivered_via == "push" and before <= kept.delivered_at < kept.responded_at


def test_a_mitra_who_declined_every_offer_reads_delivered_for_each(make_customer, make_mitra, staff):
    mitra = make_mitra()
    for _ in range(2):
        session = create_chat_request(customer=make_customer().user, duration_minutes=10)
        decline_chat_request(mitra=mitra.user, session_id=session.id)  # the app never acked: it answered
    row = staff.get(f"/api/control-center/mitra-activity/?mitra={mitra.user.id}").json()["results"][0]
    assert (row["notified"], row["rejected"], row["delivered"], row["delivery_rate"]) == (2, 2, 2, 1.0)


def test_seen_records_delivery_and_seen_once(db, customer, make_mitra):
    mitra = make_mitra()
    session_id = customer.post("/api/customer/chat-requests/", {"duration_minutes": 10}).json()["session_id"]
    path = f"/api/mitra/chat-requests/{session_id}/seen/"
    response = mitra.post(path, {"via": "push"})
    assert response.status_code == 200 and response.json()["status"] == "pending"
    row = Offer.objects.get(session_id=session_id)
    assert (row.delivered_via, row.seen_at is not None) == ("push", True)
    assert mitra.post(path).status_code == 200  # idempotent; the first proof stays
    again = Offer.objects.get(session_id=session_id)
    assert (again.delivered_at, again.delivered_via, again.seen_at) == (row.delivered_at, "push", row.seen_at)
    assert mitra.post(path, {"via": "carrier-pigeon"}).status_code == 400
    assert customer.post(path).status_code == 403
    assert make_mitra().post(path).status_code == 404
    history = mitra.get("/api/mitra/chat-requests/history/").json()["results"][0]
    assert history["delivered_via"] == "push" and history["seen_at"] is not None
    customer.post(f"/api/customer/chat-requests/{session_id}/cancel/")
    late = make_mitra()  # not notified: 404; the notified one may still prove delivery after resolution
    assert late.post(path).status_code == 404
    assert Offer.objects.get(session_id=session_id).response == "cancelled"


def test_one_change_numbers_each_users_events_in_order_across_events_and_audiences(db, make_mitra):
    """A change may announce several events, each with several audiences, to overlapping
    users: each user's rows take consecutive seqs in announcement order, and replay gives
    each user its own audience's data."""
    a, b, c = (make_mitra().user for _ in range(3))
    with bus.changing():
        bus.send_event_on_commit(event_type="first", audiences=[({"n": 1}, [a.id, b.id]), ({"n": 2}, [c.id, a.id])])
        bus.send_event_on_commit(event_type="second", audiences=[({"n": 3}, [c.id, a.id])])
    with bus.changing():
        bus.send_event_on_commit(event_type="third", audiences=[({"n": 4}, [b.id])])
    replayed = {
        user.username: [(e.seq, e.type, json.loads(e.data_json)["n"]) for e in outbox.events_since(user.id, 0)[1]]
        for user in (a, b, c)
    }
    assert replayed == {
        a.username: [(1, "first", 1), (2, "first", 2), (3, "second", 3)],
        b.username: [(1, "first", 1), (2, "third", 4)],
        c.username: [(1, "first", 2), (2, "second", 3)],
    }
    assert outbox.latest_seqs([a.id, b.id, c.id]) == {a.id: 3, b.id: 2, c.id: 2}
    first, second, third = EventBatch.objects.order_by("id")
    assert (first.type, second.type, third.type) == ("first", "second", "third")


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"] or not django_settings.DB_PREPARE_THRESHOLD,
    reason="prepared statements are PostgreSQL's, and DB_PREPARE_THRESHOLD=0 turns them off",
)
def test_a_fan_out_is_planned_once_per_connection_whoever_gets_it(db, customer, make_mitra):
    """The offer's and the outbox's statements keep one text whatever the recipients, so
    PostgreSQL plans them once per connection (prepared) instead of on every create: with
    every recipient written into the text, each fan-out was a statement never seen before."""
    for _ in range(django_settings.DB_PREPARE_THRESHOLD + 1):
        make_mitra()  # a different set of recipients each time
        session_id = create_request(customer)
        assert customer.post(f"/api/customer/chat-requests/{session_id}/cancel/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("INSERT INTO chat_request_notifications" in statement for statement in prepared)
    assert any("INSERT INTO event_sequences" in statement for statement in prepared)


def test_prune_keeps_the_last_500_and_the_last_10_minutes(db, make_mitra, make_customer):
    mitra = make_mitra()
    customers = [make_customer() for _ in range(2)]
    for i in range(260):  # 520 events: new + cancelled each
        session_id = customers[i % 2].post("/api/customer/chat-requests/", {"duration_minutes": 10}).json()
        customers[i % 2].post(f"/api/customer/chat-requests/{session_id['session_id']}/cancel/")
    assert UserEvent.objects.filter(user=mitra.user).count() == 520
    assert prune(timezone.now(), budget_seconds=10).user_events == 0  # all within 10 minutes
    EventBatch.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    prune(timezone.now(), budget_seconds=10)
    kept = sorted(UserEvent.objects.filter(user=mitra.user).values_list("seq", flat=True))
    assert kept == list(range(520 - KEEP_LAST + 1, 521))
    assert mitra.get("/api/events/?since=19").json()["resync"] is True
    assert len(mitra.get("/api/events/?since=20").json()["events"]) == 500


def test_a_committed_change_answers_its_success_code_when_redis_is_unreachable(db, customer, make_mitra, settings):
    mitra = make_mitra()
    dead = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                           "CONFIG": {"hosts": [dead]}}}  # fmt: skip
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}}
    from channels.layers import channel_layers
    from django.core.cache import caches

    channel_layers.backends.clear()
    caches._settings = None
    try:
        create = customer.post("/api/customer/chat-requests/", {"duration_minutes": 10})
        assert create.status_code == 201
        session_id = create.json()["session_id"]
        assert mitra.post(f"/api/mitra/chat-requests/{session_id}/accept/").status_code == 200
        login = customer.client.post(
            "/api/auth/token/", {"username": customer.user.username, "password": "secret-pass-123"}, format="json"
        )
        assert login.status_code == 200  # sign-in locks live in the database, not Redis
        # Nothing is lost: the events wait in the outbox for the relay and for resumes.
        assert [f["type"] for f in mitra.get("/api/events/?since=0").json()["events"]] == [
            "chat_request.new", "chat_request.accepted",
        ]  # fmt: skip
        assert EventBatch.objects.filter(dispatched_at__isnull=True).count() == 3
    finally:
        channel_layers.backends.clear()
        caches._settings = None
