"""The FCM client (pyfcm, one HTTP call per send: `common.thirdparty.pyfcm_client`) and
the two messages a mitra's device gets. A retry is a new recorded attempt, scheduled by
the task with backoff.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from common.messages import PUSH_NEW_REQUEST_BODY, PUSH_NEW_REQUEST_TITLE
from common.thirdparty.pyfcm_client import SingleSendFCM

from ..requests.models import ChatRequest

WITHDRAWN_TTL_SECONDS = 3600


_client: SingleSendFCM | None = None
_client_config: tuple[str, str, str] | None = None
_client_lock = threading.Lock()  # the push worker's threads may all want the first client at once


def fcm_client() -> SingleSendFCM | None:
    """The process's FCM client, or None without credentials."""
    global _client, _client_config
    config = (settings.FCM_SERVICE_ACCOUNT_FILE, settings.FCM_PROJECT_ID, settings.FCM_ENDPOINT_BASE)
    if not (config[0] and config[1]):
        return None
    with _client_lock:
        if _client is None or _client_config != config:
            _client = SingleSendFCM(service_account_file=config[0], project_id=config[1], endpoint_base=config[2])
            _client_config = config
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


def new_request_message(session: ChatRequest, now: datetime) -> Message:
    return Message(
        data={"type": "chat_request", "session_id": str(session.id), "expires_at": session.expires_at.isoformat()},
        ttl_seconds=max(1, math.ceil((session.expires_at - now).total_seconds())),
        collapse_key=str(session.id),
        title=PUSH_NEW_REQUEST_TITLE,
        body=PUSH_NEW_REQUEST_BODY.format(minutes=session.duration_minutes),
    )


def withdrawn_message(session: ChatRequest, status: str) -> Message:
    """Data only: tells the app to withdraw the request's notification."""
    return Message(
        data={"type": "chat_request_withdrawn", "session_id": str(session.id), "status": status},
        ttl_seconds=WITHDRAWN_TTL_SECONDS,
        collapse_key=str(session.id),
    )
