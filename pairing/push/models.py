"""Every attempt to send one FCM message to one device."""

from django.db import models

from ..accounts.models import Device, User
from ..requests.models import ChatRequest


class PushKind(models.TextChoices):
    NEW_REQUEST = "new_request"
    WITHDRAWN = "withdrawn"


class PushStatus(models.TextChoices):
    SENDING = "sending"  # claimed, and under way (a worker that died mid-send leaves it so)
    SENT = "sent"
    FAILED = "failed"
    INVALID_TOKEN = "invalid_token"
    NOT_SENT = "not_sent"


class PushAttempt(models.Model):
    """One row per attempt to send one FCM message to one device (retries included).

    The row is written, as `sending`, before the message is sent: its unique key is the
    claim that makes each attempt happen once, however many processes, beats, relays or
    fallbacks ask for it."""

    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="pushes")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_attempts")
    session = models.ForeignKey(
        ChatRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="push_attempts"
    )
    kind = models.CharField(max_length=16, choices=PushKind.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=PushStatus.choices)
    error = models.TextField(blank=True)
    fcm_message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "push_attempts"
        constraints = [
            models.UniqueConstraint(
                fields=["session", "device", "kind", "attempt"],
                condition=models.Q(session__isnull=False, device__isnull=False),
                name="one_push_attempt_per_offer_device",
            ),
        ]
        indexes = [
            models.Index(fields=["session", "kind", "status"], name="push_session_kind"),
            models.Index(fields=["-created_at"], name="push_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user} #{self.attempt}: {self.status}"
