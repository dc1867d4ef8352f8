"""The live page's staff socket after a change, with two staff tabs over the real channel
layer: the page shows the change within a second, and what each tab is sent is what
changed, never every mitra again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from halobestie.asgi import application
from pairing.models import ChatRequest, MitraProfile, Offer, User
from tests.support import TIMEOUT, LivePage, create_request, make_account, mitra_socket

pytestmark = pytest.mark.django_db(transaction=True)

OTHERS = 300  # mitras on the board (offered today) that none of the changes concern
WITHIN_SECONDS = 1.0


def _others_offered_today() -> None:
    customer = make_account("customer").user
    made = User.objects.bulk_create(
        User(username=f"board-{i}", role="mitra", display_name=f"Board mitra {i:03d}", password="!")
        for i in range(OTHERS)
    )
    MitraProfile.objects.bulk_create(MitraProfile(user=user, is_available=False) for user in made)
    at = timezone.now() - timedelta(minutes=30)
    past = ChatRequest.objects.create(
        customer=customer, status="expired", expire_reason="timeout", duration_minutes=15, requested_at=at,
        expires_at=at + timedelta(seconds=60), expired_at=at + timedelta(seconds=60),
    )  # fmt: skip
    Offer.objects.bulk_create(
        Offer(session=past, mitra=user, notified_at=at, active_session_count=0, response="ignored") for user in made
    )


async def _staff_tab(staff) -> LivePage:
    client = Client()
    await sync_to_async(client.force_login)(staff)
    comm = WebsocketCommunicator(application, "/ws/control-center/live/", headers=[
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"), (b"host", b"localhost"),
    ])  # fmt: skip
    assert (await comm.connect(TIMEOUT))[0]
    page = LivePage(comm)
    assert (await page.next())["type"] == "snapshot"
    return page


async def _shown_on_both(tabs: list[LivePage], check, started: float) -> list[dict]:
    """Wait until both tabs show `check`; it must take at most WITHIN_SECONDS from `started`."""
    frames = await asyncio.gather(*(tab.until(lambda tab=tab: check(tab)) for tab in tabs))
    took = asyncio.get_running_loop().time() - started
    assert took <= WITHIN_SECONDS, f"shown after {took:.2f} s"
    return [frame for taken in frames for frame in taken]


def _only_about(frames: list[dict], mitra_id: int, snapshot_bytes: int) -> None:
    """Every frame sent for a change of one mitra is an update naming that mitra alone."""
    assert frames
    for frame in frames:
        assert frame["type"] == "update"
        data = frame["data"]
        assert {m["id"] for m in data.get("mitras", {}).get("changed", [])} <= {mitra_id}
        assert {row["id"] for row in data.get("board", {}).get("changed", [])} <= {mitra_id}
        assert frame["bytes"] * 20 < snapshot_bytes, (frame["bytes"], snapshot_bytes)


async def test_each_change_is_shown_within_a_second_and_sends_only_what_changed():
    await sync_to_async(_others_offered_today)()
    staff = (await sync_to_async(make_account)("staff")).user
    ayu, customer = await sync_to_async(make_account)("mitra"), await sync_to_async(make_account)("customer")
    tabs = [await _staff_tab(staff), await _staff_tab(staff)]
    snapshot_bytes = tabs[0].frames[0]["bytes"]
    assert len(tabs[0].board) == OTHERS and tabs[0].group_of(ayu.id) == "offline"
    loop = asyncio.get_running_loop()

    started = loop.time()  # the app opens its socket: online, switched on, free
    app = await mitra_socket(ayu)
    frames = await _shown_on_both(tabs, lambda tab: tab.group_of(ayu.id) == "available", started)
    _only_about(frames, ayu.id, snapshot_bytes)
    assert all(tab.board[ayu.id]["state"] == "available" for tab in tabs)

    started = loop.time()
    assert (await sync_to_async(ayu.patch)("/api/mitra/me/", {"is_available": False})).status_code == 200
    frames = await _shown_on_both(tabs, lambda tab: tab.group_of(ayu.id) == "switched_off", started)
    _only_about(frames, ayu.id, snapshot_bytes)

    started = loop.time()
    assert (await sync_to_async(ayu.patch)("/api/mitra/me/", {"is_available": True})).status_code == 200
    await _shown_on_both(tabs, lambda tab: tab.group_of(ayu.id) == "available", started)

    started = loop.time()  # the fan-out reaches ayu alone (the others are switched off)
    session_id = await sync_to_async(create_request)(customer)
    frames = await _shown_on_both(tabs, lambda tab: [p["id"] for p in tab.state["pending"]] == [session_id], started)
    _only_about(frames, ayu.id, snapshot_bytes)
    assert all(tab.board[ayu.id]["offered"] == 1 for tab in tabs)

    started = loop.time()
    assert (await sync_to_async(ayu.post)(f"/api/mitra/chat-requests/{session_id}/accept/")).status_code == 200
    frames = await _shown_on_both(
        tabs, lambda tab: tab.state["pending"] == [] and tab.group_of(ayu.id) == "in_session", started
    )
    _only_about(frames, ayu.id, snapshot_bytes)
    assert all(tab.board[ayu.id]["answered"] == 1 and len(tab.board[ayu.id]["sessions"]) == 1 for tab in tabs)
    assert all(tab.state["today"]["accepted"] == 1 for tab in tabs)
    assert all(len(tab.board) == OTHERS + 1 for tab in tabs)  # the others' rows are still there, unchanged

    await app.disconnect()
    for tab in tabs:
        await tab.comm.disconnect()


async def test_a_tab_opened_later_gets_the_whole_state_and_then_the_same_updates():
    staff = (await sync_to_async(make_account)("staff")).user
    ayu, budi = await sync_to_async(make_account)("mitra"), await sync_to_async(make_account)("mitra")
    first = await _staff_tab(staff)
    ayu_app = await mitra_socket(ayu)
    await first.until(lambda: first.group_of(ayu.id) == "available")
    later = await _staff_tab(staff)  # its snapshot is what the first tab merged from updates
    assert later.mitras == first.mitras and later.board == first.board
    budi_app = await mitra_socket(budi)
    for tab in (first, later):
        await tab.until(lambda tab=tab: tab.group_of(budi.id) == "available")
        assert tab.frames[-1]["type"] == "update"
    assert later.mitras == first.mitras and later.board == first.board
    for comm in (ayu_app, budi_app, first.comm, later.comm):
        await comm.disconnect()
