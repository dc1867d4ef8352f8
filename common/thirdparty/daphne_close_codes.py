"""daphne's sockets able to close with the codes RFC 6455 registers for servers.

A consumer closes a socket with 1012 (service restart: the process is stopping) or 1013
(try again later: Redis is unreachable), as the contract says. daphne hands every code
to autobahn's `sendClose`, which accepts only 1000 and 3000-4999 (the codes an
application may choose) and raises on the rest, so the socket was dropped with no close
frame at all. Here those server codes go to autobahn's `sendCloseFrame`, the method
`sendClose` itself ends in.

Internals used: `daphne.ws_protocol.WebSocketProtocol.serverClose` replaced; autobahn's
`sendCloseFrame`.
"""

from __future__ import annotations

from daphne.ws_protocol import WebSocketProtocol

from . import require_version

KNOWN_DAPHNE = ("4.2.3",)
KNOWN_AUTOBAHN = ("26.11.1",)
SERVER_CLOSE_CODES = frozenset({1011, 1012, 1013})  # internal error, service restart, try again later

_daphne_server_close = WebSocketProtocol.serverClose


def server_close(protocol: WebSocketProtocol, code: int | None = None) -> None:
    if code in SERVER_CLOSE_CODES:
        protocol.sendCloseFrame(code=code, isReply=False)
    else:
        _daphne_server_close(protocol, code)


def install() -> None:
    require_version("daphne", KNOWN_DAPHNE, "common.thirdparty.daphne_close_codes")
    require_version("autobahn", KNOWN_AUTOBAHN, "common.thirdparty.daphne_close_codes")
    WebSocketProtocol.serverClose = server_close  # type: ignore[method-assign]
