"""Domain errors of the pairing rules, each with the contract's code and HTTP status.

Services raise them; `halobestie.errors.exception_handler` renders them. They carry
the objects whose view the client needs (the overlay shows the request's message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import ChatRequestNotification, ChatSession


class PairingError(Exception):
    code = "pairing_error"
    status_code = 409

    def __init__(
        self,
        *,
        session: ChatSession | None = None,
        notification: ChatRequestNotification | None = None,
    ):
        super().__init__(self.code)
        self.session = session
        self.notification = notification

    def extra(self) -> dict[str, Any]:
        from .presenters import request_view, session_object

        if self.notification is not None:
            return {"request": request_view(self.notification)}
        if self.session is not None:
            return {"session": session_object(self.session)}
        return {}


class RequestAlreadyPending(PairingError):
    code = "request_already_pending"


class RequestNotPending(PairingError):
    code = "request_not_pending"


class AlreadyResponded(PairingError):
    code = "already_responded"


class SessionNotActive(PairingError):
    code = "session_not_active"


class EarlyEndDisabled(PairingError):
    code = "early_end_disabled"
    status_code = 403


class NotFound(PairingError):
    """The resource does not exist or is not the caller's; the two look the same."""

    code = "not_found"
    status_code = 404
