"""Resume benchmark: what an app waits for when it reconnects after missing 500 events.

A mitra is offered 250 requests that are then cancelled (500 events in the outbox). The
app reconnects with `since=0`: timed from the connect call's start to the 500th frame.
Beside it, in the same run: a plain reconnect (connect to `hello`, the snapshot), the
same 500 frames by `GET /api/events/?since=0`, and the floor, a bare `websockets`
server sending the same 500 frames as soon as a socket opens.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

import httpx
from websockets.asyncio.client import connect

from devtools.launcher import BASE_DIR, free_port
from devtools.stack import Stack

EVENTS = 500
ROUNDS = 7

HISTORY_SCRIPT = """
import json
from pairing.models import MitraProfile, User
from pairing.requests.services import cancel_chat_request, create_chat_request
from rest_framework.authtoken.models import Token
MitraProfile.objects.update(is_available=False)
mitra = User.objects.get(username="mitra1")
MitraProfile.objects.filter(user=mitra).update(is_available=True)
customer = User.objects.get(username="customer1")
for _ in range({requests}):
    session = create_chat_request(customer=customer, duration_minutes=10)
    cancel_chat_request(customer=customer, session_id=session.id)
print(json.dumps(Token.objects.get(user=mitra).key))
"""


async def _frames(url: str, count: int) -> float:
    started = time.perf_counter()
    async with connect(url, max_queue=None, max_size=None) as ws:
        for _ in range(count):
            await ws.recv()
        return time.perf_counter() - started


async def measure(stack: Stack, token: str) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"resume": [], "hello": [], "poll": []}
    base = f"{stack.ws_url}/ws/mitra/?token={token}"
    async with httpx.AsyncClient(base_url=stack.url, headers={"Authorization": f"Token {token}"}) as http:
        for _ in range(ROUNDS):
            timings["resume"].append(await _frames(f"{base}&since=0", EVENTS))
            timings["hello"].append(await _frames(base, 1))
            started = time.perf_counter()
            body = (await http.get("/api/events/", params={"since": 0})).json()
            timings["poll"].append(time.perf_counter() - started)
            assert len(body["events"]) == EVENTS and not body["resync"], body.get("resync")
        frames = [json.dumps(event) for event in body["events"]]
    timings["floor"] = await _floor(frames)
    return timings


async def _floor(frames: list[str]) -> list[float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.floor_server", str(port)], cwd=BASE_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout.readline().strip() == "READY"
        async with connect(f"ws://127.0.0.1:{port}/control", max_size=None) as control:
            await control.send(json.dumps({"burst": frames}))
            await asyncio.sleep(0.2)
        return [await _frames(f"ws://127.0.0.1:{port}/burst", len(frames)) for _ in range(ROUNDS)]
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    with Stack() as stack:
        token = json.loads(stack.manage("shell", "-c", HISTORY_SCRIPT.format(requests=EVENTS // 2)).splitlines()[-1])
        timings = asyncio.run(measure(stack, token))
    ms = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    print(f"Resume of {EVENTS} missed events, median of {ROUNDS}, ms (connect call's start -> last frame):")
    print(
        f"  resume since=0: {ms['resume']:.1f} | plain reconnect to hello: {ms['hello']:.1f}"
        f" | GET /api/events/?since=0: {ms['poll']:.1f} | floor (bare server, same frames): {ms['floor']:.1f}"
    )
    print(f"  resume / floor: {ms['resume'] / ms['floor']:.1f}x; per event: {ms['resume'] / EVENTS:.2f} ms")
