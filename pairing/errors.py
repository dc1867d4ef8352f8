"""The pairing rules' refusals, each with the contract's code and HTTP status.

Services raise them with what the client needs to show why (`request=` the request
view, `session=` the session object); `common.errors` renders them.
"""

from common.errors import DomainError, NotFound

__all__ = [
    "AlreadyResponded",
    "AlreadyReviewed",
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
