"""Every model of the pairing app, for Django's discovery; each is defined in its domain."""

from .accounts.models import Device, MitraProfile, Platform, Role, User
from .events.models import EventBatch, EventSequence, UserEvent
from .push.models import PushAttempt, PushKind, PushStatus
from .requests.models import ChatRequestNotification, ChatSession
from .sessions.models import ClosureInitiator, ClosureReason, SessionClosure

__all__ = [
    "ChatRequestNotification",
    "ChatSession",
    "ClosureInitiator",
    "ClosureReason",
    "Device",
    "EventBatch",
    "EventSequence",
    "MitraProfile",
    "Platform",
    "PushAttempt",
    "PushKind",
    "PushStatus",
    "Role",
    "SessionClosure",
    "User",
    "UserEvent",
]
