"""Every model of the pairing app, for Django's discovery; each is defined in its domain."""

from .accounts.models import Device, MitraProfile, Platform, Role, User
from .events.models import EventBatch, EventSequence, UserEvent
from .push.models import PushAttempt, PushKind, PushStatus
from .requests.models import ChatRequest, Offer
from .sessions.models import ClosureInitiator, ClosureReason, SessionClosure

__all__ = [
    "ChatRequest",
    "ClosureInitiator",
    "ClosureReason",
    "Device",
    "EventBatch",
    "EventSequence",
    "MitraProfile",
    "Offer",
    "Platform",
    "PushAttempt",
    "PushKind",
    "PushStatus",
    "Role",
    "SessionClosure",
    "User",
    "UserEvent",
]
