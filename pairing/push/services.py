"""Sending one FCM message to one device, each attempt recorded as a `PushAttempt`.

Sending happens in Celery tasks (`pairing.push.tasks`), never in the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import requests
from django.utils import timezone
from pyfcm.errors import (
    AuthenticationError,
    FCMError,
    FCMNotRegisteredError,
    FCMSenderIdMismatchError,
    FCMServerError,
    InvalidDataError,
)

from ..accounts.models import Device
from ..requests.models import ChatRequest
from .fcm import Message, fcm_client
from .models import PushAttempt, PushStatus

REQUEST_TIMEOUT_SECONDS = 10


@dataclass
class Outcome:
    attempt: PushAttempt
    retryable: bool = False


def record(device: Device, session: ChatRequest | None, kind: str, attempt: int, status: str, error: str = "",
           message_id: str = "") -> PushAttempt:  # fmt: skip
    return PushAttempt.objects.create(
        device=device, user_id=device.user_id, session=session, kind=kind, attempt=attempt,
        status=status, error=error[:2000], fcm_message_id=message_id,
    )  # fmt: skip


def send(device: Device, session: ChatRequest, kind: str, message: Message, attempt: int) -> Outcome:
    """Send one message to one device and record the attempt."""
    client = fcm_client()
    if client is None:
        return Outcome(record(device, session, kind, attempt, PushStatus.NOT_SENT, "FCM credentials not configured"))
    now = timezone.now()
    expires = now + timedelta(seconds=message.ttl_seconds)
    try:
        result = client.notify(fcm_token=device.token, timeout=REQUEST_TIMEOUT_SECONDS, **message.pyfcm_kwargs(expires))
    except FCMNotRegisteredError as exc:
        return _invalid_token(device, session, kind, attempt, f"unregistered: {exc}")
    except InvalidDataError as exc:
        if "token" in str(exc).lower():
            return _invalid_token(device, session, kind, attempt, f"invalid token: {exc}")
        return Outcome(record(device, session, kind, attempt, PushStatus.FAILED, f"invalid message: {exc}"))
    except FCMServerError as exc:
        return Outcome(record(device, session, kind, attempt, PushStatus.FAILED, f"server error: {exc}"), True)
    except (AuthenticationError, FCMSenderIdMismatchError) as exc:
        return Outcome(record(device, session, kind, attempt, PushStatus.FAILED, f"{type(exc).__name__}: {exc}"))
    except (requests.RequestException, FCMError) as exc:
        return Outcome(record(device, session, kind, attempt, PushStatus.FAILED, f"{type(exc).__name__}: {exc}"), True)
    message_id = str(result.get("name", "")) if isinstance(result, dict) else ""
    return Outcome(record(device, session, kind, attempt, PushStatus.SENT, message_id=message_id))


def _invalid_token(device: Device, session: ChatRequest, kind: str, attempt: int, error: str) -> Outcome:
    Device.objects.filter(pk=device.pk).update(is_active=False, deactivated_reason=error[:255])
    return Outcome(record(device, session, kind, attempt, PushStatus.INVALID_TOKEN, error))
