"""What one change costs the staff live page, and what a presence check costs, at 1,000 and
5,000 mitras (`python -m bench.live_cost [--mitras 1000,5000]`; not a `make bench` target).

It writes to the database and Redis named by DATABASE_URL and REDIS_URL (its users are
`bench-live-*`, removed first), marks every mitra online in presence, offers them two
requests today (so each is on the mitra board), and opens two staff tabs on the real live
consumer and channel layer. Then, per kind of change, a few times each:

- one mitra switches availability off and on,
- a request is created (a fan-out to every available mitra),
- one mitra accepts it (every other one is told it was taken);

it prints the time from the change to the last frame it caused in both tabs, the bytes each tab got, this
process's CPU (the live page's reads and encoding run here, PostgreSQL's share does not),
and the presence check of a fan-out's recipients and of ten mitras (client time, and
Redis's own time from INFO commandstats).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")

REPEAT = 5
FRAME_WAIT_SECONDS = 10
QUIET_SECONDS = 1.5  # after a frame: later ones (a burst's tail, a slow read) count for the same change


def _setup(mitras: int):
    from django.core.management import call_command
    from django.utils import timezone

    from pairing.accounts.services import create_or_update_account
    from pairing.models import ChatRequest, MitraProfile, Offer, User
    from pairing.realtime import presence

    call_command("migrate", verbosity=0)
    users = User.objects.filter(username__startswith="bench-live-")
    Offer.objects.filter(mitra__in=users).delete()
    ChatRequest.objects.filter(customer__in=users).delete()
    ChatRequest.objects.filter(mitra__in=users).delete()
    ChatRequest.objects.filter(status__in=["pending", "active", "closing"]).delete()
    MitraProfile.objects.filter(user__in=users).delete()
    users.delete()
    made = User.objects.bulk_create(
        User(username=f"bench-live-{i}", role="mitra", display_name=f"Bestie {i:05d}", password="!")
        for i in range(mitras)
    )
    MitraProfile.objects.bulk_create(MitraProfile(user=user, is_available=True) for user in made)
    staff, _ = create_or_update_account(username="bench-live-staff", role="staff", password="bench-password")
    customer, _ = create_or_update_account(username="bench-live-customer", role="customer", password="bench-pw1")
    now = timezone.now()
    for minutes in (30, 20):  # two past requests offered to everyone: every mitra has figures today
        at = now - timedelta(minutes=minutes)
        past = ChatRequest.objects.create(
            customer=customer, status="expired", expire_reason="timeout", duration_minutes=15, requested_at=at,
            expires_at=at + timedelta(seconds=60), expired_at=at + timedelta(seconds=60),
        )  # fmt: skip
        Offer.objects.bulk_create(
            Offer(session=past, mitra=user, notified_at=at, active_session_count=0, response="ignored",
                  delivered_at=at if user.id % 3 else None, delivered_via="websocket" if user.id % 3 else None)
            for user in made
        )  # fmt: skip
    client = presence._sync()
    members = {presence.member(user.id, "bench"): time.time() for user in made}
    client.delete(presence._key())
    client.zadd(presence._key(), members)
    if hasattr(presence, "_mitra_key"):  # the index and the per-mitra set, where they exist
        client.delete(presence._index_key(), presence._mitra_key())
        client.zadd(presence._index_key(), dict.fromkeys(members, 0))
        client.zadd(presence._mitra_key(), {user.id: time.time() for user in made})
    return staff, customer, made


def _redis_usec(client, names: tuple[str, ...]) -> tuple[int, int]:
    stats = client.info("commandstats")
    calls = sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in names)
    usec = sum(stats.get(f"cmdstat_{name}", {}).get("usec", 0) for name in names)
    return calls, usec


def _presence_check(made) -> None:
    from pairing.realtime import presence

    client = presence._sync()
    commands = ("zrangebyscore", "zmscore")
    for label, ids in (("every mitra", [u.id for u in made]), ("ten mitras", [u.id for u in made[:10]])):
        presence.online_mitra_ids(ids)  # warm-up (loads the script)
        times = []
        calls0, usec0 = _redis_usec(client, commands)
        for _ in range(20):
            start = time.perf_counter()
            online = presence.online_mitra_ids(ids)
            times.append((time.perf_counter() - start) * 1000)
        calls1, usec1 = _redis_usec(client, commands)
        assert len(online) == len(ids), (len(online), len(ids))
        per_call = (usec1 - usec0) / max(1, calls1 - calls0) / 1000
        print(f"  presence check of {label:<12} ({len(ids):>5} ids): client p50 {statistics.median(times):6.2f} ms, "
              f"Redis {per_call:6.2f} ms per call ({calls1 - calls0} calls)")  # fmt: skip


async def _tabs(staff, count: int):
    from channels.testing import WebsocketCommunicator

    from activity.consumers import LiveConsumer

    tabs = []
    for _ in range(count):
        tab = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/control-center/live/")
        tab.scope["user"] = staff
        connected, _ = await tab.connect(FRAME_WAIT_SECONDS)
        assert connected
        tabs.append(tab)
    return tabs


async def _frames(tab, start: float | None = None) -> tuple[float, list[str]]:
    """The frames a tab gets for one change, and when the last came (ms after `start`): the
    first, then any within QUIET_SECONDS of the one before."""
    frames = [(await tab.receive_output(FRAME_WAIT_SECONDS))["text"]]
    last = time.perf_counter()
    while not await tab.receive_nothing(QUIET_SECONDS):  # (a timed-out receive_output would end the app)
        frames.append((await tab.receive_output())["text"])
        last = time.perf_counter()
    return (last - start) * 1000 if start is not None else 0.0, frames


async def _change(tabs, change) -> tuple[float, list[int], float]:
    cpu = time.process_time()
    start = time.perf_counter()
    waits = [asyncio.ensure_future(_frames(tab, start)) for tab in tabs]
    await asyncio.to_thread(change)
    results = await asyncio.gather(*waits)
    latency = max(first for first, _ in results)
    sizes = [sum(len(f.encode()) for f in frames) for _, frames in results]
    return latency, sizes, (time.process_time() - cpu) * 1000


def _create(customer, created: list) -> None:
    from pairing.requests.services import create_chat_request

    created.append(create_chat_request(customer=customer, duration_minutes=15))


def _accept(mitra, created: list) -> None:
    from pairing.requests.services import accept_chat_request

    accept_chat_request(mitra=mitra, session_id=created[0].id)


async def _measure(staff, customer, made) -> None:
    from asgiref.sync import sync_to_async

    from pairing.accounts.services import set_mitra_availability

    tabs = await _tabs(staff, 2)
    first = [(await _frames(tab))[1] for tab in tabs]
    print(f"  connect: snapshot {len(first[0][0].encode()):,} bytes per tab")
    results: dict[str, list] = {"availability of one mitra": [], "request created (fan-out)": [],
                                "request accepted": []}  # fmt: skip
    mitra = made[-1]
    for round_ in range(REPEAT):
        switch = functools.partial(set_mitra_availability, mitra=mitra, is_available=bool(round_ % 2))
        results["availability of one mitra"].append(await _change(tabs, switch))
    await sync_to_async(set_mitra_availability)(mitra=mitra, is_available=True)
    await asyncio.sleep(1)
    for tab in tabs:  # what that last switch sent
        while not await tab.receive_nothing(QUIET_SECONDS):
            await tab.receive_output()
    for round_ in range(REPEAT):
        created: list = []
        create = functools.partial(_create, customer, created)
        results["request created (fan-out)"].append(await _change(tabs, create))
        accept = functools.partial(_accept, made[round_], created)
        results["request accepted"].append(await _change(tabs, accept))
    for label, rows in results.items():
        latency = statistics.median(r[0] for r in rows)
        size = statistics.median(statistics.mean(r[1]) for r in rows)
        cpu = statistics.median(r[2] for r in rows)
        print(f"  {label:<28} last frame in both tabs p50 {latency:6.0f} ms, {size:>11,.0f} bytes per tab, "
              f"this process's CPU {cpu:6.0f} ms")  # fmt: skip
    for tab in tabs:
        await tab.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mitras", default="1000,5000")
    args = parser.parse_args()
    import django

    django.setup()
    from pairing.events import bus
    from pairing.push.subscriber import on_event as push_on_event

    bus._subscribers.remove(push_on_event)  # no pushes queued for a broker nobody reads; live cost only
    for mitras in (int(n) for n in args.mitras.split(",")):
        staff, customer, made = _setup(mitras)
        print(f"{mitras:,} mitras online, 2 staff tabs:")
        _presence_check(made)
        asyncio.run(_measure(staff, customer, made))
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    main()
