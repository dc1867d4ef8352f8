"""WebSocket consumers over the real Redis channel layer (contract section 7).

State changes go through the services; their events travel through Redis to the
consumers under test, as they do from a Celery worker to daphne.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time

import pytest
from channels.layers import get_channel_layer

from pairing.accounts.services import set_mitra_availability
from pairing.models import ChatRequest
from pairing.realtime import delivery, presence
from pairing.requests.services import (
    accept_chat_request,
    cancel_chat_request,
    create_chat_request,
    decline_chat_request,
    expire_overdue_requests,
)
from tests.support import (
    TIMEOUT,
    account,
    assert_silent,
    call,
    closed_with,
    customer_socket,
    make_account,
    make_overdue,
    mitra_socket,
    next_frame,
    ws,
)

pytestmark = pytest.mark.django_db(transaction=True)

# --- auth ---------------------------------------------------------------------


async def test_bad_or_missing_token_closes_4401():
    for path in ("/ws/mitra/", "/ws/customer/"):
        for token in (None, "0" * 40, "not-a-token", "%00"):
            comm = await ws(path, token)
            assert await closed_with(comm) == 4401


async def test_wrong_role_closes_4403():
    customer, mitra, staff = await account("customer"), await account("mitra"), await account("staff")
    assert await closed_with(await ws("/ws/mitra/", customer.token)) == 4403
    assert await closed_with(await ws("/ws/mitra/", staff.token)) == 4403
    assert await closed_with(await ws("/ws/customer/", mitra.token)) == 4403


async def test_authorization_header_works_too():
    mitra = await account("mitra")
    comm = await ws("/ws/mitra/", mitra.token, header=True)
    assert (await next_frame(comm))["type"] == "hello"
    await comm.disconnect()


# --- hello, ping, bad frames ----------------------------------------------------


async def test_hello_carries_the_same_queue_as_pending_rest():
    mitra, c1, c2 = await account("mitra"), await account("customer"), await account("customer")
    first = await call(create_chat_request)(customer=c1.user, duration_minutes=10)
    await call(create_chat_request)(customer=c2.user, duration_minutes=20)
    await call(decline_chat_request)(mitra=mitra.user, session_id=first.id)
    comm = await ws("/ws/mitra/", mitra.token)
    hello = await next_frame(comm, "hello")
    rest = await call(lambda: mitra.get("/api/mitra/chat-requests/pending/").json())()
    assert [v["session_id"] for v in hello["data"]["pending"]] == [v["session_id"] for v in rest["results"]]
    assert len(hello["data"]["pending"]) == 1 and hello["data"]["pending"][0]["duration_minutes"] == 20
    assert hello["event_id"] and hello["sent_at"]
    await comm.disconnect()


async def test_ping_pong_and_bad_frames_keep_the_socket_open():
    mitra = await account("mitra")
    comm = await mitra_socket(mitra)
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(TIMEOUT) == {"type": "pong"}
    for bad in ("not json", "[]", '{"type": "accept"}', "null", '{"no": "type"}'):
        await comm.send_to(text_data=bad)
        assert await comm.receive_json_from(TIMEOUT) == {"type": "error", "data": {"code": "bad_frame"}}
    await comm.send_to(bytes_data=b"\x00\x01")
    assert await comm.receive_json_from(TIMEOUT) == {"type": "error", "data": {"code": "bad_frame"}}
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(TIMEOUT) == {"type": "pong"}
    await comm.disconnect()


async def test_pings_and_acks_are_answered_while_the_database_thread_is_busy():
    """A slow query (PostgreSQL under load, or hung) holds the process's one database
    thread; a client frame needs no database, so the app still hears its pong and its
    acks are taken at once (and proven when the thread is free)."""
    from channels.db import database_sync_to_async

    mitra = await account("mitra")
    comm = await mitra_socket(mitra)
    release = threading.Event()
    held = asyncio.ensure_future(database_sync_to_async(release.wait)(10))
    await asyncio.sleep(0.1)  # the thread is now busy
    try:
        started = time.monotonic()
        await comm.send_json_to({"type": "ack", "seq": 0})
        await comm.send_json_to({"type": "ping"})
        assert await comm.receive_json_from(2) == {"type": "pong"}
        assert time.monotonic() - started < 1
    finally:
        release.set()
        await held
    await comm.disconnect()


# --- events ---------------------------------------------------------------------


async def test_a_broadcast_reaches_the_process_once_and_every_socket_in_it():
    mitras, customer = [await account("mitra") for _ in range(12)], await account("customer")
    sockets = [await mitra_socket(m) for m in mitras]
    layer = get_channel_layer()
    everyone = layer._get_group_channel_name(delivery.EVERYONE_GROUP)
    assert len(layer.groups[everyone]) == 1  # the hub's one subscription, not one per socket
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    for comm in sockets:
        frame = await next_frame(comm, "chat_request.new")
        assert frame["data"]["session_id"] == str(session.id) and frame["seq"] == 1
        await assert_silent(comm)  # once
    for comm in sockets:
        await comm.disconnect()


async def test_new_taken_accepted_and_customer_events():
    winner, loser, decliner, customer = (
        await account("mitra"), await account("mitra"), await account("mitra"), await account("customer")
    )  # fmt: skip
    winner_phone, winner_tablet = await mitra_socket(winner), await mitra_socket(winner)
    loser_ws, decliner_ws = await mitra_socket(loser), await mitra_socket(decliner)
    customer_ws = await customer_socket(customer)

    session = await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    for comm in (winner_phone, winner_tablet, loser_ws, decliner_ws):
        frame = await next_frame(comm, "chat_request.new")
        assert frame["data"]["session_id"] == str(session.id)
        assert frame["data"]["status"] == "pending" and frame["data"]["can_respond"] is True
    event_ids = set()

    await call(decline_chat_request)(mitra=decliner.user, session_id=session.id)
    declined = await next_frame(decliner_ws, "chat_request.declined")
    assert declined["data"]["my_response"] == "rejected"
    await assert_silent(loser_ws)

    await call(accept_chat_request)(mitra=winner.user, session_id=session.id)
    for comm in (winner_phone, winner_tablet):  # every device of the winner closes its overlay
        frame = await next_frame(comm, "chat_request.accepted")
        assert frame["data"]["status"] == "accepted"
        event_ids.add(frame["event_id"])
    taken = await next_frame(loser_ws, "chat_request.taken")
    assert taken["data"]["message"] == "Permintaan diterima oleh Bestie lain"
    assert taken["data"]["my_response"] == "missed"
    taken_by_decliner = await next_frame(decliner_ws, "chat_request.taken")
    assert taken_by_decliner["data"]["my_response"] == "rejected"
    accepted = await next_frame(customer_ws, "session.accepted")
    assert accepted["data"]["status"] == "active"
    assert accepted["data"]["mitra"]["user_id"] == winner.id
    event_ids |= {taken["event_id"], taken_by_decliner["event_id"], accepted["event_id"]}
    assert len(event_ids) == 5  # every frame has its own id
    await assert_silent(winner_phone)
    for comm in (winner_phone, winner_tablet, loser_ws, decliner_ws, customer_ws):
        await comm.disconnect()


async def test_unavailable_or_later_mitras_get_nothing():
    notified, unavailable, customer = await account("mitra"), await account("mitra"), await account("customer")
    await call(set_mitra_availability)(mitra=unavailable.user, is_available=False)
    notified_ws, unavailable_ws = await mitra_socket(notified), await mitra_socket(unavailable)
    await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    await next_frame(notified_ws, "chat_request.new")
    await assert_silent(unavailable_ws)
    await notified_ws.disconnect()
    await unavailable_ws.disconnect()


async def test_cancelled_and_expired_reach_mitras_and_customer():
    mitra, customer = await account("mitra"), await account("customer")
    mitra_ws = await mitra_socket(mitra)
    customer_ws = await customer_socket(customer)

    session = await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    await next_frame(mitra_ws, "chat_request.new")
    await call(cancel_chat_request)(customer=customer.user, session_id=session.id)
    cancelled = await next_frame(mitra_ws, "chat_request.cancelled")
    assert cancelled["data"]["message"] == "Permintaan dibatalkan oleh customer"
    assert (await next_frame(customer_ws, "session.cancelled"))["data"]["status"] == "cancelled"

    session = await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    await next_frame(mitra_ws, "chat_request.new")
    await call(make_overdue)(session.id)
    await call(expire_overdue_requests)()
    expired = await next_frame(mitra_ws, "chat_request.expired")
    assert expired["data"]["message"] == "Permintaan kedaluwarsa"
    assert expired["data"]["my_response"] == "ignored"
    session_frame = await next_frame(customer_ws, "session.expired")
    assert session_frame["data"]["expire_reason"] == "timeout"
    await mitra_ws.disconnect()
    await customer_ws.disconnect()


async def test_all_declined_sends_expired():
    mitra, customer = await account("mitra"), await account("customer")
    mitra_ws = await mitra_socket(mitra)
    customer_ws = await customer_socket(customer)
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    await next_frame(mitra_ws, "chat_request.new")
    await call(decline_chat_request)(mitra=mitra.user, session_id=session.id)
    await next_frame(mitra_ws, "chat_request.declined")
    expired = await next_frame(mitra_ws, "chat_request.expired")
    assert expired["data"]["my_response"] == "rejected"
    assert (await next_frame(customer_ws, "session.expired"))["data"]["expire_reason"] == "all_declined"
    assert (await call(ChatRequest.objects.get)(id=session.id)).status == "expired"
    await mitra_ws.disconnect()
    await customer_ws.disconnect()


async def test_event_frame_is_the_rest_view():
    mitra, customer = await account("mitra"), await account("customer")
    mitra_ws = await mitra_socket(mitra)
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=30)
    frame = await next_frame(mitra_ws, "chat_request.new")
    rest = await call(lambda: mitra.get(f"/api/mitra/chat-requests/{session.id}/status/").json())()
    frame["data"].pop("seconds_left")
    rest.pop("seconds_left")
    assert frame["data"] == rest
    assert set(frame) == {"type", "event_id", "sent_at", "seq", "data"}
    await mitra_ws.disconnect()


# --- presence ---------------------------------------------------------------------


async def _online_soon(ids, expected: set[int]) -> set[int]:
    """Who is online once the process's presence pipeline (50 ms after a connect) has run."""
    for _ in range(40):
        online = await call(presence.online_mitra_ids)(ids)
        if online == expected:
            break
        await asyncio.sleep(0.025)
    return online


async def test_presence_follows_open_sockets():
    mitra, other = await account("mitra"), await account("mitra")
    online = call(presence.online_mitra_ids)
    assert mitra.id not in await online([mitra.id, other.id])
    phone = await mitra_socket(mitra)
    tablet = await mitra_socket(mitra)
    assert await _online_soon([mitra.id, other.id], {mitra.id}) == {mitra.id}
    await phone.disconnect()
    assert await online([mitra.id]) == {mitra.id}  # the tablet is still open
    await tablet.disconnect()
    await asyncio.sleep(0.05)
    assert await online([mitra.id]) == set()
    # A customer socket is not mitra presence.
    customer = await account("customer")
    customer_ws = await customer_socket(customer)
    assert customer.id not in await online(None)
    await customer_ws.disconnect()


def _presence_writes() -> int:
    """Commands that wrote presence, as Redis counts them (all its clients)."""
    stats = presence._sync().info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("zadd", "zrem"))


async def test_presence_costs_one_write_per_process_tick_not_one_per_socket():
    mitras = [await account("mitra") for _ in range(30)]
    before = await call(_presence_writes)()
    sockets = await asyncio.gather(*(mitra_socket(m) for m in mitras))  # a burst, as after a deploy
    everyone = {m.id for m in mitras}
    assert await _online_soon(list(everyone), everyone) == everyone
    opened = await call(_presence_writes)()
    for comm in sockets:  # pings are answered, and cost Redis nothing
        await comm.send_json_to({"type": "ping"})
        assert await comm.receive_json_from(TIMEOUT) == {"type": "pong"}
    pinged = await call(_presence_writes)()
    await asyncio.gather(*(comm.disconnect() for comm in sockets))
    closed = await call(_presence_writes)()
    assert await call(presence.online_mitra_ids)([m.id for m in mitras]) == set()
    # 30 sockets, a handful of pipelines, each a few writes (sockets, index, mitras), not one per socket
    assert opened - before <= 4 * 5, opened - before
    assert pinged == opened
    assert closed - pinged <= 4 * 5, closed - pinged


async def test_the_heartbeat_refreshes_this_process_and_drops_dead_ones():
    mitra, ghost = await account("mitra"), await account("mitra")
    comm = await mitra_socket(mitra)
    assert await _online_soon([mitra.id], {mitra.id}) == {mitra.id}
    key = presence._key()
    old = presence.time.time() - presence.GRACE_SECONDS - 5
    client = presence._sync()
    await call(client.zadd)(key, {f"{ghost.id}:dead-process": old})  # a crashed process's member
    mine = [m for m in await call(client.zrange)(key, 0, -1) if m.startswith(f"{mitra.id}:".encode())]
    await call(client.zadd)(key, dict.fromkeys(mine, old))  # as if last seen long ago
    await call(client.zadd)(presence._mitra_key(), {mitra.id: old})
    assert await call(presence.online_mitra_ids)([mitra.id]) == set()
    await presence.refresh()
    assert await call(presence.online_mitra_ids)([mitra.id, ghost.id]) == {mitra.id}
    assert await call(client.zscore)(key, f"{ghost.id}:dead-process") is None
    await comm.disconnect()


async def test_a_mitra_is_online_while_any_fresh_socket_is_open_in_any_process():
    """Sockets of one mitra in two processes, and a stale one a crashed process left behind:
    closing one of the two keeps the mitra online; closing the last live one makes it
    offline at once (not after the grace period), and a heartbeat drops the stale one."""
    mitra = await account("mitra")
    client = presence._sync()
    stale = presence.member(mitra.id, "crashed-process")
    old = presence.time.time() - presence.GRACE_SECONDS - 5
    await call(client.zadd)(presence._key(), {stale: old})
    await call(client.zadd)(presence._index_key(), {stale: 0})
    here = await mitra_socket(mitra)
    # Another process: its own event loop, so its own presence writer.
    await asyncio.to_thread(asyncio.run, presence.connected(mitra.id, "other-process"))
    assert await _online_soon([mitra.id], {mitra.id}) == {mitra.id}
    await here.disconnect()
    await asyncio.sleep(0.1)
    assert await call(presence.online_mitra_ids)([mitra.id]) == {mitra.id}  # the other process's socket
    await asyncio.to_thread(asyncio.run, presence.disconnected(mitra.id, "other-process"))
    assert await call(presence.online_mitra_ids)([mitra.id]) == set()  # the stale one does not count
    await presence.refresh()
    assert await call(client.zscore)(presence._key(), stale) is None
    assert await call(client.zscore)(presence._index_key(), stale) is None
    assert await call(client.zscore)(presence._mitra_key(), mitra.id) is None


def _median_ms(fn, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def test_a_presence_check_costs_what_was_asked_not_everyone_online():
    """A fan-out's push check asks about its recipients: with 20,000 sockets online, asking
    about ten mitras costs Redis and this process far less than reading everyone online."""
    client = presence._sync()
    ids = range(10_000_000, 10_020_000)
    crowd = [presence.member(mitra_id, "elsewhere") for mitra_id in ids]
    asked = list(ids[::2_000])
    now = presence.time.time()
    await call(client.zadd)(presence._key(), dict.fromkeys(crowd, now))
    await call(client.zadd)(presence._index_key(), dict.fromkeys(crowd, 0))
    await call(client.zadd)(presence._mitra_key(), dict.fromkeys(ids, now))
    try:
        assert await call(presence.online_mitra_ids)([*asked, 1]) == set(asked)
        few = await call(_median_ms)(lambda: presence.online_mitra_ids(asked))
        everyone = await call(_median_ms)(lambda: presence.online_mitra_ids())
        assert few * 5 < everyone, (few, everyone)
    finally:
        await call(client.zrem)(presence._key(), *crowd)
        await call(client.zrem)(presence._index_key(), *crowd)
        await call(client.zrem)(presence._mitra_key(), *ids)


async def test_presence_expires_without_heartbeat(monkeypatch):
    mitra = await account("mitra")
    comm = await mitra_socket(mitra)
    assert await _online_soon([mitra.id], {mitra.id}) == {mitra.id}
    # As if the process had crashed GRACE_SECONDS ago: no heartbeat since.
    real_time = presence.time.time
    monkeypatch.setattr(presence.time, "time", lambda: real_time() + presence.GRACE_SECONDS + 1)
    assert await call(presence.online_mitra_ids)([mitra.id]) == set()
    monkeypatch.setattr(presence.time, "time", real_time)
    await comm.disconnect()


def test_frame_is_valid_json_with_unicode():
    from pairing.events.bus import encode
    from pairing.realtime.delivery import frame

    text = frame("x", encode({"name": "Bestie \u00e9\u4e2d"}))
    assert json.loads(text)["data"] == {"name": "Bestie \u00e9\u4e2d"}


def test_a_fan_out_is_one_publish_whatever_the_number_of_mitras(monkeypatch, django_capture_on_commit_callbacks):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    sent: list[str] = []
    real_group_send = type(layer).__getattr__(layer, "group_send")

    async def counting_group_send(group, message):
        sent.append(group)
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", counting_group_send, raising=False)
    for _ in range(60):
        make_account("mitra")
    customer = make_account("customer")
    with django_capture_on_commit_callbacks(execute=True):
        create_chat_request(customer=customer.user, duration_minutes=10)
    assert sent == ["everyone", "staff.live"]  # the same two sends for 6 or 6,000 mitras


@pytest.mark.parametrize("since", ["²", "٣", "\uff11", "+1", "-0", " 1", "1e3", "0x10", "%00", "1" * 30])
async def test_a_since_that_is_not_ascii_digits_resyncs(since):
    mitra = await account("mitra")
    comm = await ws(f"/ws/mitra/?since={since}", mitra.token)
    hello = await comm.receive_json_from(TIMEOUT)
    assert (hello["type"], hello["resync"]) == ("hello", True)
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(TIMEOUT) == {"type": "pong"}  # served, not crashed
    await comm.disconnect()


async def test_a_socket_that_fails_while_connecting_leaves_nothing_registered(monkeypatch):
    """Setup is all or nothing: a failure after the hub and presence knew the socket (the
    snapshot's database read, here) closes it with 1013 and leaves the mitra offline."""
    from pairing.realtime import consumers, hub

    mitra = await account("mitra")
    served_before = len(hub.current().sockets)

    def broken_snapshot(user):
        raise RuntimeError("the database went away mid-connect")

    monkeypatch.setattr(consumers, "snapshot", broken_snapshot)
    comm = await ws("/ws/mitra/", mitra.token)
    assert await closed_with(comm) == 1013
    assert len(hub.current().sockets) == served_before
    await asyncio.sleep(0.3)  # past the presence write's batching
    assert await call(presence.online_mitra_ids)([mitra.id]) == set()
    monkeypatch.undo()
    comm = await mitra_socket(mitra)  # and the next try is served
    assert await _online_soon([mitra.id], {mitra.id}) == {mitra.id}
    await comm.disconnect()


async def test_a_stopping_process_closes_its_sockets_with_1012_and_leaves_presence_at_once():
    from common.shutdown import run_hooks

    mitra, customer = await account("mitra"), await account("customer")
    mitra_comm, customer_comm = await mitra_socket(mitra), await customer_socket(customer)
    assert await _online_soon([mitra.id], {mitra.id}) == {mitra.id}
    await run_hooks()  # what SIGTERM runs in a web process (common.daphne_server)
    assert await closed_with(mitra_comm) == 1012
    assert await closed_with(customer_comm) == 1012
    assert await call(presence.online_mitra_ids)([mitra.id]) == set()  # at once, not after the grace period
    refused = await ws("/ws/mitra/", mitra.token)  # a socket arriving now is sent elsewhere
    assert await closed_with(refused) == 1013
