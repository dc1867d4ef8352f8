"""Believable past traffic for a developer's database, so that every chart and page of the
control center shows something: requests through the day (quiet at night, busy in the
evening), offers to several mitras with deliveries, answers and their times, every
outcome, and a few force-closes. Days that already have history are left alone, so the
command can run on every `make run`."""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from common.days import day_start
from pairing.accounts.services import create_or_update_account
from pairing.lifecycle import ExpireReason, OfferResponse, SessionStatus
from pairing.models import ChatRequest, ClosureReason, Offer, Role, SessionClosure, User

from . import services

R = OfferResponse
# Requests per hour of the day (the control center's time zone), before the day's own swing.
HOURLY = [1, 1, 0, 0, 0, 1, 2, 3, 4, 4, 5, 5, 6, 5, 5, 5, 6, 7, 9, 11, 12, 11, 8, 4]
HISTORY_CUSTOMERS = 25
EXTRA_MITRAS = ["Bestie Dewi", "Bestie Eka", "Bestie Fitri", "Bestie Gita", "Bestie Hana"]
# How reliably each mitra's app acknowledges an offer, and how often it answers: one
# mitra's app is flaky, so the board and alerts have something to show.
PROFILES = [(0.97, 0.8), (0.95, 0.7), (0.9, 0.6), (0.55, 0.5), (0.97, 0.4), (0.9, 0.75), (0.85, 0.65), (0.95, 0.5)]


def _accounts() -> tuple[list[User], list[User]]:
    mitras = list(User.objects.filter(role=Role.MITRA, is_active=True).order_by("id"))
    for index, name in enumerate(EXTRA_MITRAS[: max(0, 8 - len(mitras))], start=1):
        user, _ = create_or_update_account(username=f"history-mitra{index}", role=Role.MITRA,
                                           password=secrets.token_urlsafe(16), display_name=name)  # fmt: skip
        mitras.append(user)
    customers = list(User.objects.filter(username__startswith="history-customer", role=Role.CUSTOMER))
    for index in range(len(customers) + 1, HISTORY_CUSTOMERS + 1):
        user, _ = create_or_update_account(
            username=f"history-customer{index}", role=Role.CUSTOMER, password=secrets.token_urlsafe(16),
            display_name=f"Pelanggan {index}",
        )  # fmt: skip
        customers.append(user)
    return mitras, customers


def seed_history(days: int, seed: int | None = None) -> dict[str, int]:
    """Fill the `days` days before today; today is left to live traffic."""
    rng = random.Random(seed)
    mitras, customers = _accounts()
    today = timezone.localdate()
    made = {"days": 0, "requests": 0, "offers": 0, "force_closes": 0}
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        if ChatRequest.objects.filter(customer__in=customers, requested_at__gte=day_start(day),
                                      requested_at__lt=day_start(day + timedelta(days=1))).exists():  # fmt: skip
            continue
        with transaction.atomic():
            counts = _one_day(day, rng, mitras, customers)
        made["days"] += 1
        for name, value in counts.items():
            made[name] += value
    services.roll_up_final_days()
    return made


EARLY_END_REASONS = [reason.value for reason in ClosureReason if reason != ClosureReason.TIME_UP]


def _one_day(day: date, rng: random.Random, mitras: list[User], customers: list[User]) -> dict[str, int]:
    swing = rng.uniform(0.6, 1.4) * (1.25 if day.weekday() >= 5 else 1.0)
    requests, offers, closures = [], [], []
    start = day_start(day)
    for hour, base in enumerate(HOURLY):
        count = max(0, round(rng.gauss(base * swing, base * 0.3 + 0.3))) if base else int(rng.random() < 0.3)
        for _ in range(count):
            requested = start + timedelta(hours=hour, seconds=rng.randrange(3600))
            request = ChatRequest(
                id=uuid.uuid4(),
                customer=rng.choice(customers),
                requested_at=requested,
                expires_at=requested + timedelta(seconds=60),
                duration_minutes=rng.choice([15, 30, 30, 60]),
                status=SessionStatus.EXPIRED,
            )
            if rng.random() < 0.05:  # the customer gave up first
                request.status = SessionStatus.CANCELLED
                request.cancelled_at = requested + timedelta(seconds=rng.randint(5, 50))
            row_offers = _offers(request, rng, mitras)
            closure = _settle(request, row_offers, rng)
            requests.append(request)
            offers.extend(row_offers)
            if closure is not None:
                closures.append(closure)
    ChatRequest.objects.bulk_create(requests)
    Offer.objects.bulk_create(offers)
    SessionClosure.objects.bulk_create(closures)
    return {"requests": len(requests), "offers": len(offers), "force_closes": len(closures)}


def _offers(request: ChatRequest, rng: random.Random, mitras: list[User]) -> list[Offer]:
    """Offers to a few mitras: delivered, seen and answered as each mitra's profile makes likely."""
    made = []
    for index in rng.sample(range(len(mitras)), k=rng.randint(1, min(len(mitras), 5))):
        acks, answers = PROFILES[index % len(PROFILES)]
        notified = request.requested_at + timedelta(milliseconds=rng.randint(50, 900))
        offer = Offer(
            session=request, mitra=mitras[index], notified_at=notified, active_session_count=rng.choice([0, 0, 0, 1, 2])
        )
        if rng.random() < acks:
            offer.delivered_at = notified + timedelta(milliseconds=rng.randint(80, 1500))
            offer.delivered_via = rng.choice(["websocket", "websocket", "websocket", "push", "poll"])
            if rng.random() < 0.8:
                offer.seen_at = offer.delivered_at + timedelta(seconds=rng.uniform(0.5, 6))
            if request.status != SessionStatus.CANCELLED and rng.random() < answers:
                offer.response_time_seconds = round(rng.uniform(1.5, 40), 1)
                offer.responded_at = notified + timedelta(seconds=offer.response_time_seconds)
        made.append(offer)
    return made


def _settle(request: ChatRequest, offers: list[Offer], rng: random.Random) -> SessionClosure | None:
    """Each offer's response and the request's outcome; a force-close now and then."""
    accepter = None
    for offer in sorted((o for o in offers if o.responded_at), key=lambda o: o.responded_at):
        if accepter is None and rng.random() < 0.75:
            accepter, offer.response = offer, R.ACCEPTED
        elif accepter is None:
            offer.response = R.REJECTED
        else:  # answered after someone else accepted: it missed
            offer.responded_at = offer.response_time_seconds = None
    for offer in offers:
        if offer.response is None:
            offer.responded_at = offer.response_time_seconds = None
            if request.status == SessionStatus.CANCELLED:
                offer.response, offer.resolved_at = R.CANCELLED, request.cancelled_at
            elif accepter is not None:
                offer.response, offer.resolved_at = R.MISSED, accepter.responded_at
            else:
                offer.response, offer.resolved_at = R.IGNORED, request.expires_at
    if request.status == SessionStatus.CANCELLED:
        return None
    if accepter is None:
        request.expired_at = request.expires_at
        declined = offers and all(o.response == R.REJECTED for o in offers)
        request.expire_reason = ExpireReason.ALL_DECLINED if declined else ExpireReason.TIMEOUT
        return None
    request.status, request.mitra, request.accepted_at = SessionStatus.CLOSED, accepter.mitra, accepter.responded_at
    request.ends_at = request.closed_at = request.accepted_at + timedelta(minutes=request.duration_minutes)
    if rng.random() >= 0.04:
        return None
    ended = request.accepted_at + timedelta(minutes=rng.uniform(2, request.duration_minutes - 1))
    request.closing_started_at, request.closed_at = ended, ended + timedelta(minutes=5)
    return SessionClosure(
        session=request, initiated_by="mitra", initiator=accepter.mitra, reason_code=rng.choice(EARLY_END_REASONS),
        needs_review=rng.random() < 0.3, created_at=ended,
    )  # fmt: skip
