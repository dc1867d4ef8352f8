"""FCM messages through pyfcm, each attempt recorded as a `PushAttempt`.

Sending happens in Celery tasks (`pairing.tasks`), never in the request path.
pyfcm's own retries (urllib3 retries, sleeping on Retry-After) are switched off:
a retry is a new recorded attempt, scheduled by the task with backoff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.utils import timezone
from pyfcm import FCMNotification
from pyfcm.errors import (
    AuthenticationError,
    FCMError,
    FCMNotRegisteredError,
    FCMSenderIdMismatchError,
    FCMServerError,
    InvalidDataError,
)
from requests.adapters import HTTPAdapter

from .messages import PUSH_NEW_REQUEST_BODY, PUSH_NEW_REQUEST_TITLE
from .models import ChatSession, Device, PushAttempt, PushStatus

WITHDRAWN_TTL_SECONDS = 3600
REQUEST_TIMEOUT_SECONDS = 10


class _FCM(FCMNotification):
    """pyfcm with one HTTP call per send and a configurable endpoint."""

    def __init__(self) -> None:
        super().__init__(
            service_account_file=settings.FCM_SERVICE_ACCOUNT_FILE,
            project_id=settings.FCM_PROJECT_ID,
            adapter=HTTPAdapter(max_retries=0),
        )
        self.FCM_END_POINT_BASE = settings.FCM_ENDPOINT_BASE.rstrip("/")

    def send_request(self, payload=None, timeout=None):
        response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)
        if self._is_access_token_expired(response):
            self.thread_local.token_expiry = 0
            response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)
        return response


_client: _FCM | None = None
_client_config: tuple[str, str, str] | None = None


def fcm_client() -> _FCM | None:
    """The process's FCM client, or None without credentials."""
    global _client, _client_config
    config = (settings.FCM_SERVICE_ACCOUNT_FILE, settings.FCM_PROJECT_ID, settings.FCM_ENDPOINT_BASE)
    if not (config[0] and config[1]):
        return None
    if _client is None or _client_config != config:
        _client, _client_config = _FCM(), config
    return _client


@dataclass
class Message:
    data: dict[str, str]
    ttl_seconds: int
    collapse_key: str
    title: str | None = None
    body: str | None = None

    def pyfcm_kwargs(self, expires: datetime) -> dict:
        alert = self.title is not None
        kwargs = {
            "data_payload": self.data,
            "android_config": {
                "priority": "high" if alert else "normal",
                "ttl": f"{self.ttl_seconds}s",
                "collapse_key": self.collapse_key,
            },
            "apns_config": {
                "headers": {
                    "apns-priority": "10" if alert else "5",
                    "apns-push-type": "alert" if alert else "background",
                    "apns-collapse-id": self.collapse_key,
                    "apns-expiration": str(int(expires.timestamp())),
                },
                "payload": {"aps": {} if alert else {"content-available": 1}},
            },
            "webpush_config": {
                "headers": {"TTL": str(self.ttl_seconds), "Urgency": "high" if alert else "normal",
                            "Topic": self.collapse_key.replace("-", "")[:32]},
            },
        }  # fmt: skip
        if alert:
            kwargs["notification_title"] = self.title
            kwargs["notification_body"] = self.body
        return kwargs


def new_request_message(session: ChatSession, now: datetime) -> Message:
    return Message(
        data={"type": "chat_request", "session_id": str(session.id), "expires_at": session.expires_at.isoformat()},
        ttl_seconds=max(1, math.ceil((session.expires_at - now).total_seconds())),
        collapse_key=str(session.id),
        title=PUSH_NEW_REQUEST_TITLE,
        body=PUSH_NEW_REQUEST_BODY.format(minutes=session.duration_minutes),
    )


def withdrawn_message(session: ChatSession, status: str) -> Message:
    """Data only: tells the app to withdraw the request's notification."""
    return Message(
        data={"type": "chat_request_withdrawn", "session_id": str(session.id), "status": status},
        ttl_seconds=WITHDRAWN_TTL_SECONDS,
        collapse_key=str(session.id),
    )


@dataclass
class Outcome:
    attempt: PushAttempt
    retryable: bool = False
    retry_after: float | None = None


def record(device: Device, session: ChatSession | None, kind: str, attempt: int, status: str, error: str = "",
           message_id: str = "") -> PushAttempt:  # fmt: skip
    return PushAttempt.objects.create(
        device=device, user_id=device.user_id, session=session, kind=kind, attempt=attempt,
        status=status, error=error[:2000], fcm_message_id=message_id,
    )  # fmt: skip


def send(device: Device, session: ChatSession, kind: str, message: Message, attempt: int) -> Outcome:
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


def _invalid_token(device: Device, session: ChatSession, kind: str, attempt: int, error: str) -> Outcome:
    Device.objects.filter(pk=device.pk).update(is_active=False, deactivated_reason=error[:255])
    return Outcome(record(device, session, kind, attempt, PushStatus.INVALID_TOKEN, error))
