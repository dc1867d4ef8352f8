"""Twisted's TCP transport, sending at once when nothing is queued before the data.

Twisted buffers every write until the reactor's next turn: it registers the socket for
writing (an `epoll_ctl` under daphne's asyncio reactor), sends when the loop comes round,
and unregisters it (another). A fan-out's pass over a process's sockets therefore sent
nothing until it ended, and a fifth of the pass went on those registrations (py-spy).
asyncio's own transports send at once when their buffer is empty; this gives daphne's the
same. Only what the kernel does not take is buffered, and a write that finds anything
buffered queues behind it, so bytes leave in the order written, as before.
"""

from __future__ import annotations

from twisted.internet import abstract, tcp

_buffered_write = abstract.FileDescriptor.write


def write_at_once(transport: tcp.Connection, data: bytes) -> None:
    if (
        data
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport.dataBuffer
        and not transport._tempDataBuffer
    ):
        sent = transport.writeSomeData(data)
        if isinstance(sent, int):  # else the connection is lost: the buffered write finds that out
            if sent >= len(data):
                return
            data = data[sent:]
    _buffered_write(transport, data)


def install() -> None:
    """For every TCP (and Unix socket) connection of this process."""
    tcp.Connection.write = write_at_once  # type: ignore[method-assign]
