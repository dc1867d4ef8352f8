"""Why and by whom a session was moved to closing."""

from django.db import models

from common.messages import STAFF_REASON_LABELS

from ..accounts.models import User
from ..requests.models import ChatRequest


class ClosureInitiator(models.TextChoices):
    SYSTEM = "system"
    MITRA = "mitra"
    CUSTOMER = "customer"
    STAFF = "staff"


class ClosureReason(models.TextChoices):
    # Staff's labels, from the one message table; the app shows its own (EARLY_END_REASONS).
    TIME_UP = "time_up", STAFF_REASON_LABELS["time_up"]
    CUSTOMER_ABUSIVE = "customer_abusive", STAFF_REASON_LABELS["customer_abusive"]
    CUSTOMER_LEFT = "customer_left", STAFF_REASON_LABELS["customer_left"]
    OUT_OF_SCOPE = "out_of_scope", STAFF_REASON_LABELS["out_of_scope"]
    OTHER = "other", STAFF_REASON_LABELS["other"]


class SessionClosure(models.Model):
    session = models.OneToOneField(ChatRequest, on_delete=models.CASCADE, related_name="closure")
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
