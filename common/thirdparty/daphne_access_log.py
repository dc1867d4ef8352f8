"""daphne's access log, with the values of secret-bearing query parameters masked.

daphne writes each HTTP request's URI with its query string, so a `?token=` (the
WebSocket style of authentication, which a client may send to a REST URL too) would
land in the log. daphne's command line offers no hook for the log's class.

With LOG_FORMAT=json each line is a JSON record of logger `daphne.access` (fields client,
request, status, bytes) instead of daphne's text.

Internals used: `daphne.cli.AccessLogGenerator`, the name the command line builds its
logger from, is replaced before the command line runs; `AccessLogGenerator.write_entry`
is overridden for the JSON records.
"""

from __future__ import annotations

import logging
import re

from daphne import cli
from daphne.access import AccessLogGenerator

from . import require_version

KNOWN_VERSIONS = ("4.2.3",)
SECRET_PARAMETER = re.compile(r"(?i)([?&](?:token|key|password|secret|api_key|access_token)=)[^&#\s]*")


def masked(path: str) -> str:
    return SECRET_PARAMETER.sub(r"\1***", path)


class MaskedAccessLog(AccessLogGenerator):
    def __call__(self, protocol, action, details):
        if "path" in details:
            details = {**details, "path": masked(str(details["path"]))}
        return super().__call__(protocol, action, details)


class JsonMaskedAccessLog(MaskedAccessLog):
    log = logging.getLogger("daphne.access")

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
        extra = {"client": host, "request": request, "status": status, "bytes": length}
        self.log.info("%s %s", request, status or "-", extra={k: v for k, v in extra.items() if v is not None})


def install(*, as_json: bool = False) -> None:
    require_version("daphne", KNOWN_VERSIONS, "common.thirdparty.daphne_access_log")
    cli.AccessLogGenerator = JsonMaskedAccessLog if as_json else MaskedAccessLog
