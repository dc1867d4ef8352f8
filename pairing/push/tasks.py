"""Celery tasks of push: one task a device, retried with backoff inside the offer's lifetime."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from appconfig.models import get_config

from .. import clock
from ..accounts.models import Device
from ..lifecycle import SessionStatus, effective_status, request_status
from ..requests.models import ChatRequest
from . import fcm, services
from .models import PushAttempt, PushKind, PushStatus


@shared_task(name="pairing.tasks.push_new_request", ignore_result=True)
def push_new_request(session_id: str, mitra_ids: list[int]) -> int:
    """Queue one push per active device of the given (offline) mitras, skipping devices
    already pushed this offer (the relay may hand the same event over twice)."""
    pushed = PushAttempt.objects.filter(
        session_id=session_id, kind=PushKind.NEW_REQUEST, device_id__isnull=False
    ).values("device_id")
    device_ids = list(
        Device.objects.filter(user_id__in=mitra_ids, is_active=True)
        .exclude(id__in=pushed)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for device_id in device_ids:
        send_push.delay(device_id, session_id, PushKind.NEW_REQUEST, 1)
    return len(device_ids)


@shared_task(name="pairing.tasks.push_request_withdrawn", ignore_result=True)
def push_request_withdrawn(session_id: str) -> int:
    """Tell every device that was pushed the request that it is no longer open."""
    session = ChatRequest.objects.filter(id=session_id).first()
    if session is None:
        return 0
    pushed = (
        PushAttempt.objects.filter(session=session, kind=PushKind.NEW_REQUEST, status=PushStatus.SENT)
        .exclude(user_id=session.mitra_id)
        .values_list("device_id", flat=True)
        .distinct()
    )
    withdrawn = set(
        PushAttempt.objects.filter(session=session, kind=PushKind.WITHDRAWN).values_list("device_id", flat=True)
    )
    device_ids = [d for d in pushed if d is not None and d not in withdrawn]
    for device_id in device_ids:
        send_push.delay(device_id, session_id, PushKind.WITHDRAWN, 1)
    return len(device_ids)


@shared_task(name="pairing.tasks.push_unproven_offers", ignore_result=True)
def push_unproven_offers() -> int:
    """Contract section 12: push every device of a notified mitra whose app has not proved
    a pending offer delivered `push_fallback_seconds` after it was sent (a half-open socket,
    a frozen app, a socket that died without saying so). Each push is claimed here, so a
    second beat, or the next tick while the push worker is busy, queues nothing again; a
    device pushed at fan-out (its mitra had no socket) is already claimed and is skipped."""
    config = get_config()
    if not config.push_fallback_seconds:
        return 0
    now = clock.now()
    queued = 0
    for device, session in services.unproven_offer_devices(now=now, after_seconds=config.push_fallback_seconds):
        if services.claim(device=device, session=session, kind=PushKind.NEW_REQUEST, attempt=1) is None:
            continue
        try:
            send_push.delay(device.id, str(session.id), PushKind.NEW_REQUEST, 1, claimed=True)
        except Exception:  # the broker is down: let the next tick claim it again
            services.release(device=device, session=session, kind=PushKind.NEW_REQUEST, attempt=1)
            raise
        queued += 1
    return queued


@shared_task(name="pairing.tasks.send_push", ignore_result=True)
def send_push(device_id: int, session_id: str, kind: str, attempt: int, claimed: bool = False) -> str:
    """Send one message to one device, once: the attempt is claimed first (or was, by the
    caller), and a copy of the task (a relay's, a second beat's, the fallback's) finds it
    claimed and stops. On an FCM server error, try again with backoff."""
    device = Device.objects.filter(id=device_id, is_active=True).first()
    session = ChatRequest.objects.filter(id=session_id).first()
    if device is None or session is None:
        return "gone"
    if claimed:
        row = services.claimed(device=device, session=session, kind=kind, attempt=attempt)
    else:
        row = services.claim(device=device, session=session, kind=kind, attempt=attempt)
    if row is None:
        return "claimed elsewhere"
    now = clock.now()
    status, _ = effective_status(session, now)
    if kind == PushKind.NEW_REQUEST:
        if status != SessionStatus.PENDING:
            # Resolved before the push went out: nothing to offer any more.
            services.complete(row, PushStatus.NOT_SENT, f"request already {status}")
            return PushStatus.NOT_SENT
        message = fcm.new_request_message(session, now)
    else:
        # The recipient's own view of the request (never the acceptor: it is not sent one).
        message = fcm.withdrawn_message(session, request_status(session, device.user_id, now))
    outcome = services.send(row, message)
    if outcome.retryable and attempt < settings.FCM_MAX_ATTEMPTS:
        countdown = settings.FCM_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        if kind != PushKind.NEW_REQUEST or (session.expires_at - timezone.now()).total_seconds() > countdown:
            send_push.apply_async((device_id, session_id, kind, attempt + 1), countdown=countdown)
    return outcome.attempt.status
