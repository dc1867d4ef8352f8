"""daphne's sockets send a write at once (common.eager_writes), and keep bytes in order when
the kernel cannot take them all: real sockets, Twisted's own TCP connection, a reactor of
the test's own that only turns when the test says so."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import protocol, tcp
from twisted.internet.selectreactor import SelectReactor

from common import eager_writes


@pytest.fixture
def connection():
    """A Twisted TCP connection to a peer socket the test reads, and its reactor."""
    ours, peer = socket.socketpair()
    reactor = SelectReactor()
    transport = tcp.Connection(ours, protocol.Protocol(), reactor=reactor)
    transport.connected = True
    peer.setblocking(False)
    yield transport, peer, reactor
    transport.socket.close()
    peer.close()
    reactor.waker.connectionLost(None)


def received(peer: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_twisted_alone_holds_a_write_until_the_reactor_turns(connection):
    """What the module changes: without it, a pass over many sockets sends nothing until it ends."""
    transport, peer, reactor = connection
    transport.write(b"frame")
    assert received(peer) == b""
    assert transport in reactor.getWriters()


def test_a_write_reaches_the_peer_before_the_reactor_turns(connection, monkeypatch):
    transport, peer, reactor = connection
    monkeypatch.setattr(tcp.Connection, "write", eager_writes.write_at_once)
    transport.write(b"first frame")
    transport.write(b", second frame")
    assert received(peer) == b"first frame, second frame"
    assert transport not in reactor.getWriters()  # nothing left to send: no registration


def test_what_the_kernel_cannot_take_waits_and_later_writes_queue_behind_it(connection, monkeypatch):
    transport, peer, reactor = connection
    monkeypatch.setattr(tcp.Connection, "write", eager_writes.write_at_once)
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than a socket's buffers hold
    transport.write(big)
    assert transport in reactor.getWriters()
    got = received(peer)  # room in the socket again, with the rest of `big` still in Twisted's buffer
    assert 0 < len(got) < len(big)
    transport.write(b"tail")
    for _ in range(10_000):
        if transport not in reactor.getWriters():
            break
        reactor.doIteration(0.01)
        got += received(peer)
    got += received(peer)
    assert got == big + b"tail"


def test_a_write_to_a_closed_peer_loses_the_connection_as_before(connection, monkeypatch):
    transport, peer, reactor = connection
    monkeypatch.setattr(tcp.Connection, "write", eager_writes.write_at_once)
    lost = []
    transport.connectionLost = lost.append
    peer.close()
    transport.write(b"to nobody")  # the send fails: buffered, and the reactor's write finds it out
    for _ in range(100):
        if lost:
            break
        reactor.doIteration(0.01)
    assert lost
