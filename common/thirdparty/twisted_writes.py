"""Twisted's TCP transport, sending a socket's first write of a reactor turn at once
(`EAGER_WRITES`, on by default; off, Twisted's own write runs untouched).

Twisted buffers every write until the reactor's next turn: it registers the socket for
writing (an `epoll_ctl` under daphne's asyncio reactor), sends when the loop comes round,
and unregisters it. A fan-out's pass over a process's sockets therefore sent nothing
until it ended, and much of the pass went on those registrations.
Here a socket's first write of a turn leaves at once, when nothing is buffered before it.
Its later writes in the same turn (a resume's hundreds of frames) are buffered and leave
together at the turn's end, as before: sent one by one they made a resume slower.
Only what the kernel does not take is buffered, and a write that finds anything buffered
queues behind it, so bytes leave in the order written. A connection running TLS keeps
Twisted's own write, which encrypts.

Internals used: `tcp.Connection.write` replaced for the process; the connection's
`dataBuffer`, `_tempDataBuffer`, `_writeDisconnected`, `writeSomeData` and `TLS`.
"""

from __future__ import annotations

from twisted.internet import tcp

from . import require_version

KNOWN_VERSIONS = ("26.10.0",)

_twisted_write = tcp.Connection.write  # through the TLS layer when TLS runs, else buffered
_sent_this_turn: set[tcp.Connection] = set()


def write_at_once(transport: tcp.Connection, data: bytes) -> None:
    if (
        data
        and not transport.TLS
        and transport not in _sent_this_turn
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport.dataBuffer
        and not transport._tempDataBuffer
    ):
        sent = transport.writeSomeData(data)
        if isinstance(sent, int):  # else the connection is lost: the buffered write finds that out
            if not _sent_this_turn:
                transport.reactor.callLater(0, _sent_this_turn.clear)
            _sent_this_turn.add(transport)
            if sent >= len(data):
                return
            data = data[sent:]
    _twisted_write(transport, data)


def install() -> None:
    """For every TCP (and Unix socket) connection of this process."""
    require_version("twisted", KNOWN_VERSIONS, "common.thirdparty.twisted_writes")
    tcp.Connection.write = write_at_once  # type: ignore[method-assign]
