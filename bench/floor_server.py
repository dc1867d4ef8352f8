"""A bare `websockets` server: the floor for the fan-out and resume benchmarks.

`/clients` sockets only listen; a text frame on `/control` is broadcast as is to
every client, except `{"burst": [frames]}`, which is kept: each `/burst` socket is sent
those frames as soon as it opens (a resume without the database). Prints READY once
listening.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import broadcast, serve

clients: set = set()
burst: list[str] = []


async def handler(ws) -> None:
    if ws.request.path == "/control":
        async for message in ws:
            if message.startswith('{"burst"'):
                burst[:] = json.loads(message)["burst"]
            else:
                broadcast(clients, message)
        return
    if ws.request.path == "/burst":
        for frame in burst:
            await ws.send(frame)
        await ws.wait_closed()
        return
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    # No keepalive pings: a client busy reading a burst must not be dropped for a late pong.
    async with serve(handler, "127.0.0.1", port, max_queue=None, ping_interval=None):
        print("READY", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
