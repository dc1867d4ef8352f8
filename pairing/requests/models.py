"""A chat request and the session it becomes are one row (`ChatRequest`): the request
is a session in status `pending`. Each mitra told of a request has one
`Offer`, the activity log of the contract's section 9.
"""

import uuid

from django.db import models
from django.db.models import Q

from ..accounts.models import User
from ..lifecycle import ExpireReason, OfferResponse, SessionStatus


class ChatRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="customer_sessions")
    mitra = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="mitra_sessions")
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.PENDING)
    # NULL, not "", while the request has not expired: the contract says null.
    expire_reason = models.CharField(max_length=32, choices=ExpireReason.choices, null=True, blank=True)  # noqa: DJ001
    duration_minutes = models.PositiveSmallIntegerField()
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    closing_started_at = models.DateTimeField(null=True, blank=True)
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_sessions"
        ordering = ["requested_at"]
        constraints = [
            # At most one pending request per customer, enforced by the database so
            # two racing creates cannot both succeed.
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="pending"),
                name="one_pending_request_per_customer",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="session_status_expires"),
            models.Index(fields=["mitra", "status"], name="session_mitra_status"),
            # Covering (on PostgreSQL) for the control center's broadcast health.
            models.Index(fields=["requested_at"], include=["status", "accepted_at"], name="session_requested_at"),
            models.Index(fields=["accepted_at"], name="session_accepted_at"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class DeliveredVia(models.TextChoices):
    WEBSOCKET = "websocket"  # the app acknowledged a frame that offered it
    PUSH = "push"  # the app opened from the push notification
    POLL = "poll"  # the app learned of it over REST (pending/, status/ or events/)
    RESPONSE = "response"  # the mitra answered it: an app that answered got the offer


class Offer(models.Model):
    """One row per (request, notified mitra): the mitra activity log.

    `response` is written once, by a conditional update on `response IS NULL`, and
    never changes after that.

    A request writes one row per available mitra in one statement, so the foreign keys
    have no database constraint (as `events.UserEvent`, which says why): the rows
    come from an INSERT ... SELECT of existing mitras in the transaction that made the
    session, and Django still applies `on_delete`. Their indexes lead the ones below.
    """

    session = models.ForeignKey(
        ChatRequest, on_delete=models.CASCADE, related_name="offers", db_constraint=False, db_index=False
    )
    mitra = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="offers", db_constraint=False, db_index=False
    )
    notified_at = models.DateTimeField()
    active_session_count = models.PositiveIntegerField()
    # NULL until the one and only response is written.
    response = models.CharField(max_length=16, choices=OfferResponse.choices, null=True, blank=True)  # noqa: DJ001
    responded_at = models.DateTimeField(null=True, blank=True)
    # Written with responded_at (accepted and rejected), so averages need no date arithmetic.
    response_time_seconds = models.FloatField(null=True, blank=True)
    # When a final response of any kind was written (the row's own audit time).
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Proof of delivery (contract section 11), each written once: the offer reached the
    # app, and the overlay showed it. Never changes `response`.
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_via = models.CharField(max_length=16, choices=DeliveredVia.choices, null=True, blank=True)  # noqa: DJ001
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_request_notifications"
        constraints = [
            models.UniqueConstraint(fields=["session", "mitra"], name="one_notification_per_mitra"),
        ]
        indexes = [
            models.Index(fields=["mitra", "-notified_at"], name="notification_mitra_time"),
            models.Index(fields=["notified_at"], name="notification_time"),
            # The offers still waiting for a proof of delivery: few at any time, however long the log.
            models.Index(
                fields=["mitra", "notified_at"],
                condition=models.Q(delivered_at__isnull=True),
                name="notification_unproven",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} → {self.mitra_id}: {self.response or 'unanswered'}"
