"""Why and by whom a session was moved to closing."""

from django.db import models

from common.messages import CLOSURE_TIME_UP_LABEL, EARLY_END_REASONS

from ..accounts.models import User
from ..requests.models import ChatSession


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
    session = models.OneToOneField(ChatSession, on_delete=models.CASCADE, related_name="closure")
    initiated_by = models.CharField(max_length=16, choices=ClosureInitiator.choices)
    initiator = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason_code = models.CharField(max_length=32, choices=ClosureReason.choices)
    reason_note = models.TextField(blank=True)
    needs_review = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # Staff's review of a flagged force-close: written once, by `review_closure`.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    review_note = models.TextField(blank=True)

    class Meta:
        db_table = "session_closures"
        indexes = [models.Index(fields=["created_at"], name="closure_created_at")]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.reason_code} by {self.initiated_by}"

    @property
    def served_minutes(self) -> float | None:
        """How long the chat ran before the closing grace began (booked: `session.duration_minutes`)."""
        started = self.session.accepted_at
        return None if started is None else max((self.created_at - started).total_seconds() / 60, 0.0)
