"""The transactional outbox: every event a user gets, numbered per user, written in the
transaction that caused it (contract section 11).

`EventBatch` is one announced event with each audience's data; `UserEvent` gives each
recipient its number (`seq`) in it; `EventSequence` is each user's counter. Rows are
kept at least 10 minutes and at least the user's last 500 (`services.prune`).
"""

from django.conf import settings
from django.db import models

# Users by setting, not by import: every domain (accounts too) announces events.
User = settings.AUTH_USER_MODEL


class EventSequence(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "event_sequences"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.last_seq}"


class EventBatch(models.Model):
    type = models.CharField(max_length=64)
    # A JSON array: the data of each audience, in order.
    audiences_json = models.TextField()
    created_at = models.DateTimeField()
    # Set once every subscriber (sockets, push) took it; the relay retries the others.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "event_batches"
        indexes = [
            models.Index(fields=["created_at"], name="event_batch_created"),
            models.Index(
                fields=["created_at"], condition=models.Q(dispatched_at__isnull=True), name="event_batch_undispatched"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class UserEvent(models.Model):
    """One recipient's number in an event. A fan-out writes one per mitra, so the foreign
    keys have no database constraint: PostgreSQL's check of each one locks the row it
    points at, a cost that grows with every recipient of the commit. The outbox writes
    these rows in the transaction that made their batch, for users that exist, and
    Django still applies `on_delete`."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    seq = models.PositiveBigIntegerField()
    batch = models.ForeignKey(EventBatch, on_delete=models.CASCADE, related_name="user_events", db_constraint=False)
    audience = models.PositiveSmallIntegerField()

    class Meta:
        db_table = "user_events"
        constraints = [models.UniqueConstraint(fields=["user", "seq"], name="one_event_per_user_seq")]

    def __str__(self) -> str:
        return f"{self.user_id}#{self.seq}"
