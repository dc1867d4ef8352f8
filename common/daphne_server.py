"""daphne as every web process runs it: `python -m common.daphne_server [daphne's arguments]`.

daphne's own command line, with tokens masked in its access log, (unless
`EAGER_WRITES=0`) a socket's first write of a reactor turn sent at once, and a graceful
stop on SIGTERM (`common.shutdown`): daphne's own SIGTERM cancels every connection's
application at once, so sockets would drop without a close code and requests under way
would be cut off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from daphne import cli
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort

from . import logs, metrics, shutdown
from .thirdparty import daphne_access_log, daphne_close_codes, twisted_writes

logger = logging.getLogger(__name__)


def eager_writes_enabled() -> bool:
    return os.environ.get("EAGER_WRITES", "1").strip().lower() not in ("0", "false", "no", "off")


def _stop_gracefully() -> None:
    """On the reactor's thread: stop accepting (the other web processes on the same socket
    take the new connections), then run the shutdown, then stop."""
    for reader in list(reactor.getReaders()):
        if IListeningPort.providedBy(reader):
            reader.stopListening()
    task = asyncio.ensure_future(shutdown.stop_gracefully())
    task.add_done_callback(lambda _: reactor.stop())


def _on_sigterm(signum, frame) -> None:
    logger.info("SIGTERM: closing sockets with 1012 and finishing requests under way")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM stops at once
    reactor.callFromThread(_stop_gracefully)


def main() -> None:
    daphne_access_log.install(as_json=logs.json_logs())
    daphne_close_codes.install()
    metrics.process_started("web")
    if eager_writes_enabled():
        twisted_writes.install()
    # Replaces the handler the reactor installs as it starts.
    reactor.callWhenRunning(signal.signal, signal.SIGTERM, _on_sigterm)
    sys.argv[0] = "daphne"
    cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
