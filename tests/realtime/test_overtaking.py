"""A live frame that overtakes its predecessor (two changes committed moments apart, or an
event to the user's own group beside a broadcast) is kept until the predecessor comes,
instead of reading the outbox once per socket: under load those reads took the cores the
live frames needed, and a busy stack fell behind for good instead of slowing down.

Real database, real Redis channel layer, real sockets through channels' communicator; the
two broadcasts are handed to this process's hub in the wrong order, as Redis can.
"""

from __future__ import annotations

import asyncio

import pytest
from django.test import override_settings

from pairing.events import bus, outbox
from pairing.realtime import delivery, hub
from pairing.requests.services import create_chat_request
from tests.support import account, call, mitra_socket, next_frame

pytestmark = pytest.mark.django_db(transaction=True)


async def _two_offers_not_yet_delivered(monkeypatch, mitras: int) -> tuple[list, list[bus.Event]]:
    """Two committed offers to every mitra, held back from the sockets (as if still on their way)."""
    accounts = [await account("mitra") for _ in range(mitras)]
    sockets = [await mitra_socket(mitra) for mitra in accounts]
    held: list[bus.Event] = []
    monkeypatch.setattr(bus, "_subscribers", [held.append])
    for _ in range(2):
        customer = await account("customer")
        await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    monkeypatch.undo()
    return sockets, held


def _count_outbox_reads(monkeypatch) -> list[list[int]]:
    """The users each read of the outbox was for, read by read."""
    reads: list[list[int]] = []
    real = outbox.events_after_many

    def counted(ranges):
        reads.append(sorted(ranges))
        return real(ranges)

    monkeypatch.setattr(outbox, "events_after_many", counted)
    return reads


@override_settings(EVENTS_CATCH_UP_SECONDS=30)  # no catch-up tick: only the live frames
async def test_an_overtaking_frame_waits_for_its_predecessor_instead_of_reading_the_outbox(monkeypatch):
    sockets, (first, second) = await _two_offers_not_yet_delivered(monkeypatch, delivery.DIRECT_RECIPIENTS + 3)
    reads = _count_outbox_reads(monkeypatch)
    loop = asyncio.get_running_loop()
    await hub.deliver(loop, delivery.message(second))  # seq 2 first
    await asyncio.sleep(0.2)
    await hub.deliver(loop, delivery.message(first))
    for comm in sockets:
        frames = [await next_frame(comm), await next_frame(comm)]
        assert [(f["type"], f["seq"]) for f in frames] == [("chat_request.new", 1), ("chat_request.new", 2)]
        assert await comm.receive_nothing(timeout=0.05)  # each once
    assert reads == []  # no socket read the outbox for a frame that was on its way
    for comm in sockets:
        await comm.disconnect()


@override_settings(EVENTS_CATCH_UP_SECONDS=0.3)
async def test_a_predecessor_that_never_comes_is_read_from_the_outbox(monkeypatch):
    sockets, (_first, second) = await _two_offers_not_yet_delivered(monkeypatch, delivery.DIRECT_RECIPIENTS + 1)
    reads = _count_outbox_reads(monkeypatch)
    await hub.deliver(asyncio.get_running_loop(), delivery.message(second))  # seq 1's publish was lost
    for comm in sockets:
        frames = [await next_frame(comm), await next_frame(comm)]  # the hub's catch-up, from the outbox
        assert [f["seq"] for f in frames] == [1, 2]
    assert [len(users) for users in reads] == [len(sockets)]  # one read for every socket behind
    for comm in sockets:
        await comm.disconnect()


async def test_a_fan_outs_acks_are_proven_together(monkeypatch):
    """Every app acks every offer: a fan-out's acks are proven in a batch or two, not a
    transaction per mitra, and each offer is delivered within moments of its ack."""
    from pairing.models import Offer
    from pairing.requests import services

    accounts = [await account("mitra") for _ in range(30)]
    sockets = [await mitra_socket(mitra) for mitra in accounts]
    batches: list[dict[int, int]] = []
    real = services.mark_acked_many

    def counted(*, acks, after=None):
        batches.append(dict(acks))
        return real(acks=acks, after=after)

    monkeypatch.setattr(services, "mark_acked_many", counted)
    customer = await account("customer")
    session = await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    for comm in sockets:
        frame = await next_frame(comm, "chat_request.new")
        await comm.send_json_to({"type": "ack", "seq": frame["seq"]})

    def delivered() -> int:
        return Offer.objects.filter(session=session, delivered_via="websocket").count()

    for _ in range(50):
        if await call(delivered)() == len(accounts):
            break
        await asyncio.sleep(0.05)
    assert await call(delivered)() == len(accounts)
    assert 1 <= len(batches) <= 3 and sum(len(b) for b in batches) == len(accounts)
    for comm in sockets:
        await comm.disconnect()


async def test_a_late_ack_from_a_mitras_other_socket_is_taken_without_a_failed_batch(caplog):
    """A mitra with the app open on two devices: one socket acks further than the other,
    whose ack of an earlier frame arrives after the first was proven. Nothing to prove, and
    nothing that fails the process's batch (which would hold every mitra's acks back)."""
    from pairing.models import Offer

    mitra, customers = await account("mitra"), [await account("customer") for _ in range(3)]
    ahead, behind = await mitra_socket(mitra), await mitra_socket(mitra)
    sessions = []
    for customer in customers[:2]:
        sessions.append(await call(create_chat_request)(customer=customer.user, duration_minutes=10))
    for comm in (ahead, behind):
        await next_frame(comm, "chat_request.new")
        await next_frame(comm, "chat_request.new")

    def delivered() -> set:
        proven = Offer.objects.filter(mitra=mitra.user, delivered_via="websocket")
        return set(proven.values_list("session_id", flat=True))

    async def until_delivered(count: int) -> set:
        for _ in range(60):
            if len(found := await call(delivered)()) >= count:
                return found
            await asyncio.sleep(0.05)
        return await call(delivered)()

    await ahead.send_json_to({"type": "ack", "seq": 2})
    assert await until_delivered(2) == {s.id for s in sessions}
    with caplog.at_level("WARNING", logger="pairing.realtime.acks"):
        await behind.send_json_to({"type": "ack", "seq": 1})  # late, and already proven
        await asyncio.sleep(0.3)
        sessions.append(await call(create_chat_request)(customer=customers[2].user, duration_minutes=10))
        frame = await next_frame(behind, "chat_request.new")
        await behind.send_json_to({"type": "ack", "seq": frame["seq"]})
        assert await until_delivered(3) == {s.id for s in sessions}
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text
    for comm in (ahead, behind):
        await comm.disconnect()


@override_settings(EVENTS_CATCH_UP_SECONDS=0.2)
async def test_a_socket_still_sending_its_hello_is_not_read_for_from_its_start(monkeypatch):
    """Until its hello is out a socket is at seq 0: the hub leaves it to its hello instead
    of reading every kept event of its user (after a mass reconnect, thousands of users'
    whole histories in one read, on the thread the hellos wait for)."""
    mitra = await account("mitra")
    for _ in range(3):
        customer = await account("customer")
        await call(create_chat_request)(customer=customer.user, duration_minutes=10)
    reads = _count_outbox_reads(monkeypatch)
    real_listening = hub.listening

    async def slow_listening():
        await asyncio.sleep(1)  # five ticks while this socket is setting up
        await real_listening()

    monkeypatch.setattr(hub, "listening", slow_listening)
    comm = await mitra_socket(mitra)
    await asyncio.sleep(0.5)  # a few ticks after the hello
    assert [users for users in reads if mitra.user.id in users] == []
    assert await comm.receive_nothing(timeout=0.1)  # the hello listed the three: nothing more
    await comm.disconnect()
