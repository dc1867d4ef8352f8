"""The pairing rules' refusals, each with the contract's code and HTTP status.

Services raise them with what the client needs to show why (`request=` the request
view, `session=` the session object); `common.errors` renders them.
"""

from common.errors import DomainError, NotFound

__all__ = [
    "AlreadyResponded",
    "AlreadyReviewed",
    "Busy",
    "EarlyEndDisabled",
    "NotFound",
    "RequestAlreadyPending",
    "RequestNotPending",
    "SessionNotActive",
]


class RequestAlreadyPending(DomainError):
    code = "request_already_pending"


class RequestNotPending(DomainError):
    code = "request_not_pending"


class AlreadyResponded(DomainError):
    code = "already_responded"


class SessionNotActive(DomainError):
    code = "session_not_active"


class EarlyEndDisabled(DomainError):
    code = "early_end_disabled"
    status_code = 403


class AlreadyReviewed(DomainError):
    """A force-close's review is written once; a second reviewer sees the first one's."""

    code = "already_reviewed"


class Busy(DomainError):
    """Too many requests at once: the stack refuses new ones before every offer is late.
    The code a client already handles for a brief outage (503 `unavailable`), with why
    and when to come back; nothing was changed."""

    code = "unavailable"
    status_code = 503

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(reason="busy", retry_after=retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra["retry_after"])}
