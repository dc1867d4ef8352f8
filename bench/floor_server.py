"""A bare `websockets` broadcast server: the floor for the fan-out benchmark.

`/clients` sockets only listen; a text frame on `/control` is broadcast as is to
every client. Prints READY once listening.
"""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

clients: set = set()


async def handler(ws) -> None:
    if ws.request.path == "/control":
        async for message in ws:
            broadcast(clients, message)
        return
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_queue=None):
        print("READY", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
