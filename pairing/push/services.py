"""Sending one FCM message to one device, each attempt claimed as a `PushAttempt` row
before it is sent and completed with its outcome.

Sending happens in Celery tasks (`pairing.push.tasks`), never in the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.db import connection
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from pyfcm.errors import (
    AuthenticationError,
    FCMError,
    FCMNotRegisteredError,
    FCMSenderIdMismatchError,
    FCMServerError,
    InvalidDataError,
)

from common.chunks import chunks, delete_in_batches
from common.thirdparty.django_orm import insert_or_ignore

from ..accounts.models import Device
from ..lifecycle import SessionStatus
from ..requests.models import ChatRequest, Offer
from . import metrics
from .fcm import Message, fcm_client
from .models import PushAttempt, PushKind, PushStatus

REQUEST_TIMEOUT_SECONDS = 5


@dataclass
class Outcome:
    attempt: PushAttempt
    retryable: bool = False


def claim(*, device: Device, session: ChatRequest, kind: str, attempt: int) -> PushAttempt | None:
    """The attempt's row, written as `sending`; None if someone else claimed this attempt."""
    row = PushAttempt(
        device=device, user_id=device.user_id, session=session, kind=kind, attempt=attempt, status=PushStatus.SENDING
    )
    return row if insert_or_ignore(row) else None


def _in_flight(*, device: Device, session: ChatRequest, kind: str, attempt: int) -> QuerySet[PushAttempt]:
    """The attempt's row while it is still claimed and not yet completed (`sending`)."""
    return PushAttempt.objects.filter(
        device=device, session=session, kind=kind, attempt=attempt, status=PushStatus.SENDING
    )


def claimed(*, device: Device, session: ChatRequest, kind: str, attempt: int) -> PushAttempt | None:
    """The attempt's row as its claimer left it (`sending`), or None if it moved on."""
    return _in_flight(device=device, session=session, kind=kind, attempt=attempt).first()


def release(*, device: Device, session: ChatRequest, kind: str, attempt: int) -> None:
    """Give up a claim whose task could not be queued."""
    _in_flight(device=device, session=session, kind=kind, attempt=attempt).delete()


def unproven_offer_devices(*, now: datetime, after_seconds: int) -> list[tuple[Device, ChatRequest]]:
    """(device, request) for every active device of a mitra whose offer of a still pending
    request was sent at least `after_seconds` ago and has no proof of delivery or answer,
    and that was not pushed this offer yet.

    One query finds the (device, request) pairs, from the mitras' active devices, and only
    those pairs are read as objects: an overloaded stack has many offers waiting for a
    proof, and reading each of them (with its request) every second made the fallback
    dearest exactly when the stack had least to spare."""
    already = PushAttempt.objects.filter(
        session_id=OuterRef("session_id"), device_id=OuterRef("device_id"), kind=PushKind.NEW_REQUEST, attempt=1
    )
    pairs = list(
        Offer.objects.filter(
            delivered_at__isnull=True,
            response__isnull=True,
            notified_at__lte=now - timedelta(seconds=after_seconds),
            session__status=SessionStatus.PENDING,
            session__expires_at__gt=now,
            mitra__devices__is_active=True,
        )
        .annotate(device_id=F("mitra__devices__id"))
        .filter(~Exists(already))
        .order_by("device_id", "session_id")
        .values_list("device_id", "session_id")
    )
    if not pairs:
        return []
    devices: dict[int, Device] = {}
    sessions: dict[object, ChatRequest] = {}
    for some in chunks(sorted({device_id for device_id, _ in pairs})):
        devices.update(Device.objects.in_bulk(some))
    for some in chunks(sorted({session_id for _, session_id in pairs}, key=str)):
        sessions.update(ChatRequest.objects.in_bulk(some))
    return [(devices[device_id], sessions[session_id]) for device_id, session_id in pairs]


def complete(row: PushAttempt, status: str, error: str = "", message_id: str = "") -> PushAttempt:
    row.status, row.error, row.fcm_message_id = status, error[:2000], message_id
    _in_flight(device=row.device, session=row.session, kind=row.kind, attempt=row.attempt).update(
        status=row.status, error=row.error, fcm_message_id=row.fcm_message_id
    )
    metrics.attempt_completed(row.kind, row.status)
    return row


def send(row: PushAttempt, message: Message) -> Outcome:
    """Send the claimed attempt's message to its device and record the outcome."""
    client = fcm_client()
    if client is None:
        return Outcome(complete(row, PushStatus.NOT_SENT, "FCM credentials not configured"))
    now = timezone.now()
    expires = now + timedelta(seconds=message.ttl_seconds)
    if not connection.in_atomic_block:
        # Back to the pool while FCM answers: the push worker's many threads share a few connections.
        connection.close()
    try:
        result = client.notify(
            fcm_token=row.device.token, timeout=REQUEST_TIMEOUT_SECONDS, **message.pyfcm_kwargs(expires)
        )
    except FCMNotRegisteredError as exc:
        return _invalid_token(row, f"unregistered: {exc}")
    except InvalidDataError as exc:
        if "token" in str(exc).lower():
            return _invalid_token(row, f"invalid token: {exc}")
        return Outcome(complete(row, PushStatus.FAILED, f"invalid message: {exc}"))
    except FCMServerError as exc:
        return Outcome(complete(row, PushStatus.FAILED, f"server error: {exc}"), True)
    except (AuthenticationError, FCMSenderIdMismatchError) as exc:
        return Outcome(complete(row, PushStatus.FAILED, f"{type(exc).__name__}: {exc}"))
    except (requests.RequestException, FCMError) as exc:
        return Outcome(complete(row, PushStatus.FAILED, f"{type(exc).__name__}: {exc}"), True)
    except Exception as exc:  # anything else (the OAuth token's fetch, say): a claimed attempt always ends recorded
        return Outcome(complete(row, PushStatus.FAILED, f"{type(exc).__name__}: {exc}"), True)
    message_id = str(result.get("name", "")) if isinstance(result, dict) else ""
    return Outcome(complete(row, PushStatus.SENT, message_id=message_id))


def _invalid_token(row: PushAttempt, error: str) -> Outcome:
    Device.objects.filter(pk=row.device_id).update(is_active=False, deactivated_reason=error[:255])
    return Outcome(complete(row, PushStatus.INVALID_TOKEN, error))


def prune_attempts(*, before: datetime) -> int:
    """Delete the attempts made before `before` (the activity log's retention), in short
    transactions; returns how many went."""
    return delete_in_batches(PushAttempt.objects.filter(created_at__lt=before))
