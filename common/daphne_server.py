"""daphne, with an access log that never writes a token and a socket's first write of a
turn sent at once: `python -m common.daphne_server [daphne's arguments]`.

daphne's access log writes each HTTP request's URI with its query string, so a
`?token=` (the WebSocket style of authentication, sent by a client to a REST URL too)
would land in the log. This runs daphne's own command line with the same log format,
but the values of secret-bearing parameters replaced by `***`. A socket's first write of a
reactor turn leaves at once instead of at the turn's end (`eager_writes`).
"""

from __future__ import annotations

import re
import sys

from daphne import cli
from daphne.access import AccessLogGenerator

from . import eager_writes, logs, metrics

SECRET_PARAMETER = re.compile(r"(?i)([?&](?:token|key|password|secret|api_key|access_token)=)[^&#\s]*")


def masked(path: str) -> str:
    return SECRET_PARAMETER.sub(r"\1***", path)


class MaskedAccessLog(AccessLogGenerator):
    def __call__(self, protocol, action, details):
        if "path" in details:
            details = {**details, "path": masked(str(details["path"]))}
        return super().__call__(protocol, action, details)


def main() -> None:
    cli.AccessLogGenerator = MaskedAccessLog  # the class daphne's CLI builds its logger from
    cli.AccessLogGenerator = logs.access_log_class(MaskedAccessLog)  # JSON records with LOG_FORMAT=json
    metrics.process_started("web")
    eager_writes.install()
    sys.argv[0] = "daphne"
    cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
