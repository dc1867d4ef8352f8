"""daphne's sockets send their first write of a reactor turn at once (common.thirdparty.twisted_writes),
later ones together at the turn's end, and keep bytes in order when the kernel cannot take
them all: real sockets, Twisted's own TCP connection, a reactor of the test's own that
turns only when the test says so."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import protocol, tcp
from twisted.internet.selectreactor import SelectReactor

from common.thirdparty import twisted_writes as eager_writes


@pytest.fixture
def reactor():
    reactor = SelectReactor()
    yield reactor
    eager_writes._sent_this_turn.clear()
    reactor.waker.connectionLost(None)


@pytest.fixture
def connect(reactor):
    """Twisted TCP connections, each to a peer socket the test reads."""
    opened = []

    def connect() -> tuple[tcp.Connection, socket.socket]:
        ours, peer = socket.socketpair()
        transport = tcp.Connection(ours, protocol.Protocol(), reactor=reactor)
        transport.connected = True
        peer.setblocking(False)
        opened.extend([ours, peer])
        return transport, peer

    yield connect
    for sock in opened:
        sock.close()


@pytest.fixture
def writing_at_once(monkeypatch):
    monkeypatch.setattr(tcp.Connection, "write", eager_writes.write_at_once)


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


def end_turn(reactor: SelectReactor) -> None:
    reactor.runUntilCurrent()
    reactor.doIteration(0)


def test_twisted_alone_holds_a_write_until_the_reactor_turns(reactor, connect):
    """What the module changes: without it, a pass over many sockets sends nothing until it ends."""
    transport, peer = connect()
    transport.write(b"frame")
    assert received(peer) == b""
    assert transport in reactor.getWriters()


def test_each_sockets_first_write_of_a_turn_reaches_its_peer_before_the_turn_ends(reactor, connect, writing_at_once):
    sockets = [connect() for _ in range(3)]
    for index, (transport, _) in enumerate(sockets):
        transport.write(b"offer for %d" % index)
    assert [received(peer) for _, peer in sockets] == [b"offer for 0", b"offer for 1", b"offer for 2"]
    assert reactor.getWriters() == []  # nothing left to send: no registration


def test_a_sockets_later_writes_in_the_turn_leave_together_after_the_first(reactor, connect, writing_at_once):
    """A resume's frames: one send for the lot, not one each."""
    transport, peer = connect()
    for index in range(5):
        transport.write(b"[%d]" % index)
    assert received(peer) == b"[0]"
    assert transport in reactor.getWriters()
    end_turn(reactor)
    assert received(peer) == b"[1][2][3][4]"
    transport.write(b"[next turn]")
    assert received(peer) == b"[next turn]"


def test_what_the_kernel_cannot_take_waits_and_later_writes_queue_behind_it(reactor, connect, writing_at_once):
    transport, peer = connect()
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than a socket's buffers hold
    transport.write(big)
    assert transport in reactor.getWriters()
    got = received(peer)  # room in the socket again, with the rest of `big` still in Twisted's buffer
    assert 0 < len(got) < len(big)
    eager_writes._sent_this_turn.clear()  # as if a turn had passed without writing
    transport.write(b"tail")
    for _ in range(10_000):
        if transport not in reactor.getWriters():
            break
        end_turn(reactor)
        got += received(peer)
    got += received(peer)
    assert got == big + b"tail"


def test_a_connection_running_tls_still_writes_through_its_tls_layer(reactor, connect, writing_at_once):
    """Never plaintext on the wire: the TLS layer encrypts and writes underneath, buffered."""
    transport, peer = connect()
    given_to_tls = []
    transport.TLS = True
    transport.protocol.write = given_to_tls.append
    transport.write(b"token=secret")
    assert given_to_tls == [b"token=secret"]
    assert received(peer) == b""


def test_a_write_to_a_closed_peer_loses_the_connection_as_before(reactor, connect, writing_at_once):
    transport, peer = connect()
    lost = []
    transport.connectionLost = lost.append
    peer.close()
    transport.write(b"to nobody")  # the send fails: buffered, and the reactor's write finds it out
    for _ in range(100):
        if lost:
            break
        end_turn(reactor)
    assert lost
