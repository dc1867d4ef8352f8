"""The reaches into libraries' internals refuse to start on a version nobody read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.daphne_server import eager_writes_enabled
from common.thirdparty import (
    UnknownLibraryVersion,
    daphne_access_log,
    daphne_close_codes,
    require_version,
    twisted_writes,
)


def test_an_unknown_version_fails_loudly_naming_the_module():
    with pytest.raises(UnknownLibraryVersion, match=r"twisted .* common\.thirdparty\.twisted_writes .* 0\.0\.1"):
        require_version("twisted", ("0.0.1",), "common.thirdparty.twisted_writes")


def test_the_installed_versions_are_known(monkeypatch):
    from daphne import cli
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import tcp

    monkeypatch.setattr(tcp.Connection, "write", tcp.Connection.write)  # undone after the test
    monkeypatch.setattr(cli, "AccessLogGenerator", cli.AccessLogGenerator)
    monkeypatch.setattr(WebSocketProtocol, "serverClose", WebSocketProtocol.serverClose)
    twisted_writes.install()  # each raises on an unknown version
    daphne_access_log.install()
    daphne_close_codes.install()
    assert WebSocketProtocol.serverClose is daphne_close_codes.server_close
    assert tcp.Connection.write is twisted_writes.write_at_once
    assert cli.AccessLogGenerator is daphne_access_log.MaskedAccessLog


def test_a_web_process_with_an_unread_twisted_does_not_start(tmp_path):
    # The same start as every web process, with the known list emptied: it must stop at once.
    code = (
        "import sys; from common.thirdparty import twisted_writes; twisted_writes.KNOWN_VERSIONS = ();"
        " sys.argv = ['daphne', '--help']; from common import daphne_server; daphne_server.main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "UnknownLibraryVersion" in result.stderr


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("1", True), ("0", False), ("off", False)])
def test_eager_writes_can_be_turned_off(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv("EAGER_WRITES", raising=False)
    else:
        monkeypatch.setenv("EAGER_WRITES", value)
    assert eager_writes_enabled() is enabled


def test_the_access_log_never_writes_a_token():
    assert daphne_access_log.masked("/api/events/?since=3&token=abc&x=1") == "/api/events/?since=3&token=***&x=1"


def test_server_close_codes_go_out_as_close_frames():
    """autobahn's sendClose refuses 1012 and 1013; the frame-level call sends them."""

    class Protocol:
        def __init__(self):
            self.frames, self.closed = [], []

        def sendCloseFrame(self, code=None, isReply=False):
            self.frames.append(code)

        def sendClose(self, code=None):
            self.closed.append(code)

    protocol = Protocol()
    for code in (1012, 1013, 4401):
        daphne_close_codes.server_close(protocol, code)
    assert protocol.frames == [1012, 1013]
    assert protocol.closed == [4401]  # application codes keep daphne's own path
