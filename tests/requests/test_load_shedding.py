"""Past capacity a new request is refused, explicitly, before every offer is late: 503
`unavailable` with `"reason": "busy"` and Retry-After while this process's hub is handing
its sockets a broadcast committed more than SHED_BEHIND_SECONDS ago. Nothing is created,
and every other call (cancel, accept, decline: they end fan-outs) is still served.

The backlog is real: the hub's pass of a broadcast committed seconds ago is held by a
socket slow to take its frame, as it is when the sockets are behind.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from pairing.models import ChatRequest
from pairing.realtime import delivery, hub
from tests.support import account, call

pytestmark = pytest.mark.django_db(transaction=True)


class SlowSocket:
    """A socket of this process that takes its frame only when the test lets it."""

    def __init__(self, user) -> None:
        self.user, self.socket_id = user, delivery.socket_id()
        self.last_seq, self.last_sent = 0, time.monotonic()
        self.release = asyncio.Event()
        self.sending = asyncio.Lock()

    async def take(self, seq: int, text: str) -> None:
        await self.release.wait()

    async def catch_up(self, upto: int, stored: list | None) -> None: ...

    async def heartbeat(self, latest: int) -> None: ...

    async def close(self, code: int) -> None: ...


def _broadcast_committed_ago(seconds: float, user_ids: list[int]) -> dict:
    from array import array

    return {
        "type": delivery.MESSAGE_TYPE, "message_id": "old", "head": ("{", "}"), "event_type": "chat_request.new",
        "session_id": None, "committed_at": time.time() - seconds, "relayed": False,
        "audiences": [["{}", array("I", user_ids).tobytes(), array("I", [1] * len(user_ids)).tobytes()]],
    }  # fmt: skip


def post(who, path: str, body: dict | None = None):
    return sync_to_async(lambda: who.post(path, body or {}), thread_sensitive=False)()


@override_settings(SHED_BEHIND_SECONDS=2)
async def test_a_new_request_is_refused_with_retry_after_while_sockets_are_behind_then_taken():
    customer, other, mitra = await account("customer"), await account("customer"), await account("mitra")
    waiting = await post(other, "/api/customer/chat-requests/", {"duration_minutes": 30})
    assert waiting.status_code == 201
    slow = SlowSocket(mitra.user)
    hub.register(slow)
    passing = asyncio.ensure_future(hub.deliver(asyncio.get_running_loop(), _broadcast_committed_ago(3, [mitra.id])))
    await asyncio.sleep(0.1)
    response = await post(customer, "/api/customer/chat-requests/", {"duration_minutes": 30})
    assert response.status_code == 503
    body = response.json()["error"]
    assert (body["code"], body["reason"]) == ("unavailable", "busy")
    assert int(response["Retry-After"]) >= 3 and body["retry_after"] == int(response["Retry-After"])
    assert await call(ChatRequest.objects.filter(customer=customer.user).count)() == 0  # nothing was created
    cancel = await post(other, f"/api/customer/chat-requests/{waiting.json()['session_id']}/cancel/")
    assert cancel.status_code == 200  # what ends a fan-out is never refused
    slow.release.set()
    await passing
    hub.unregister(slow)
    await asyncio.sleep(0.6)  # the hub is idle again
    assert (await post(customer, "/api/customer/chat-requests/", {"duration_minutes": 30})).status_code == 201


@override_settings(SHED_BEHIND_SECONDS=2)
async def test_a_broadcast_the_relay_hands_over_again_is_not_load():
    customer, mitra = await account("customer"), await account("mitra")
    slow = SlowSocket(mitra.user)
    hub.register(slow)
    old = _broadcast_committed_ago(30, [mitra.id]) | {"relayed": True}
    passing = asyncio.ensure_future(hub.deliver(asyncio.get_running_loop(), old))
    await asyncio.sleep(0.1)
    assert (await post(customer, "/api/customer/chat-requests/", {"duration_minutes": 30})).status_code == 201
    slow.release.set()
    await passing
    hub.unregister(slow)


@override_settings(SHED_BEHIND_SECONDS=0)
async def test_shedding_can_be_turned_off():
    customer, mitra = await account("customer"), await account("mitra")
    slow = SlowSocket(mitra.user)
    hub.register(slow)
    passing = asyncio.ensure_future(hub.deliver(asyncio.get_running_loop(), _broadcast_committed_ago(30, [mitra.id])))
    await asyncio.sleep(0.1)
    assert (await post(customer, "/api/customer/chat-requests/", {"duration_minutes": 30})).status_code == 201
    slow.release.set()
    await passing
    hub.unregister(slow)
