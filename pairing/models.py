"""Accounts, chat sessions and the activity log.

A chat request and the session it becomes are one row (`ChatSession`): the request
is a session in status `pending`. Each mitra told of a request has one
`ChatRequestNotification`, the activity log of the contract's section 9.
"""

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q

from .messages import CLOSURE_TIME_UP_LABEL, EARLY_END_REASONS


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    MITRA = "mitra", "Mitra"
    STAFF = "staff", "Staff"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    display_name = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.username


class RoleManager(UserManager):
    def __init__(self, role: str):
        super().__init__()
        self.role = role

    def get_queryset(self):
        return super().get_queryset().filter(role=self.role)


class Customer(User):
    objects = RoleManager(Role.CUSTOMER)

    class Meta:
        proxy = True


class Mitra(User):
    objects = RoleManager(Role.MITRA)

    class Meta:
        proxy = True


class MitraProfile(models.Model):
    """What only a mitra has. `is_available` is the mitra's own choice, not presence."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="mitra_profile")
    is_available = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.user} ({'available' if self.is_available else 'unavailable'})"


class SessionStatus(models.TextChoices):
    PENDING = "pending"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    ACTIVE = "active"
    EXTENDING = "extending"
    CLOSING = "closing"
    CLOSED = "closed"


# The sessions a mitra is "in": Sesi Aktif lists them and active_session_count counts them.
ACTIVE_SESSION_STATUSES = (SessionStatus.ACTIVE, SessionStatus.EXTENDING, SessionStatus.CLOSING)
# A session in one of these was accepted by its mitra.
ACCEPTED_SESSION_STATUSES = (*ACTIVE_SESSION_STATUSES, SessionStatus.CLOSED)


class ExpireReason(models.TextChoices):
    TIMEOUT = "timeout"
    ALL_DECLINED = "all_declined"
    NO_MITRA_AVAILABLE = "no_mitra_available"


class ChatSession(models.Model):
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

    @property
    def session_id(self) -> uuid.UUID:
        return self.id


class NotificationResponse(models.TextChoices):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSED = "missed"
    IGNORED = "ignored"
    CANCELLED = "cancelled"


class ChatRequestNotification(models.Model):
    """One row per (request, notified mitra): the mitra activity log.

    `response` is written once, by a conditional update on `response IS NULL`, and
    never changes after that.
    """

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="notifications")
    mitra = models.ForeignKey(User, on_delete=models.PROTECT, related_name="request_notifications")
    notified_at = models.DateTimeField()
    active_session_count = models.PositiveIntegerField()
    # NULL until the one and only response is written.
    response = models.CharField(max_length=16, choices=NotificationResponse.choices, null=True, blank=True)  # noqa: DJ001
    responded_at = models.DateTimeField(null=True, blank=True)
    # Written with responded_at (accepted and rejected), so averages need no date arithmetic.
    response_time_seconds = models.FloatField(null=True, blank=True)
    # When a final response of any kind was written (the row's own audit time).
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_request_notifications"
        constraints = [
            models.UniqueConstraint(fields=["session", "mitra"], name="one_notification_per_mitra"),
        ]
        indexes = [
            models.Index(fields=["mitra", "-notified_at"], name="notification_mitra_time"),
            models.Index(fields=["notified_at"], name="notification_time"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} → {self.mitra_id}: {self.response or 'unanswered'}"


class ClosureInitiator(models.TextChoices):
    SYSTEM = "system"
    MITRA = "mitra"
    CUSTOMER = "customer"
    STAFF = "staff"


class ClosureReason(models.TextChoices):
    # Labels from the one message table, so the admin and control center read as the app does.
    TIME_UP = "time_up", CLOSURE_TIME_UP_LABEL
    CUSTOMER_ABUSIVE = "customer_abusive", EARLY_END_REASONS["customer_abusive"]
    CUSTOMER_LEFT = "customer_left", EARLY_END_REASONS["customer_left"]
    OUT_OF_SCOPE = "out_of_scope", EARLY_END_REASONS["out_of_scope"]
    OTHER = "other", EARLY_END_REASONS["other"]


class SessionClosure(models.Model):
    """Why and by whom a session was moved to closing."""

    session = models.OneToOneField(ChatSession, on_delete=models.CASCADE, related_name="closure")
    initiated_by = models.CharField(max_length=16, choices=ClosureInitiator.choices)
    initiator = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason_code = models.CharField(max_length=32, choices=ClosureReason.choices)
    reason_note = models.TextField(blank=True)
    needs_review = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "session_closures"
        indexes = [models.Index(fields=["created_at"], name="closure_created_at")]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.reason_code} by {self.initiated_by}"


class Platform(models.TextChoices):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class Device(models.Model):
    """An FCM registration token. A token belongs to one user at a time."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    token = models.CharField(max_length=512, unique=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deactivated_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "devices"

    def __str__(self) -> str:
        return f"{self.user} {self.platform} …{self.token[-8:]}"


class PushKind(models.TextChoices):
    NEW_REQUEST = "new_request"
    WITHDRAWN = "withdrawn"


class PushStatus(models.TextChoices):
    SENT = "sent"
    FAILED = "failed"
    INVALID_TOKEN = "invalid_token"
    NOT_SENT = "not_sent"


class PushAttempt(models.Model):
    """One row per attempt to send one FCM message to one device (retries included)."""

    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="pushes")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_attempts")
    session = models.ForeignKey(
        ChatSession, on_delete=models.CASCADE, null=True, blank=True, related_name="push_attempts"
    )
    kind = models.CharField(max_length=16, choices=PushKind.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=PushStatus.choices)
    error = models.TextField(blank=True)
    fcm_message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "push_attempts"
        indexes = [
            models.Index(fields=["session", "kind", "status"], name="push_session_kind"),
            models.Index(fields=["-created_at"], name="push_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user} #{self.attempt}: {self.status}"
