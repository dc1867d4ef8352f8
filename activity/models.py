"""Daily rollups of the activity log, so the control center's time grows with the
days shown, not with the rows in them.

A log row never changes once its response is set, so a calendar day whose requests
are all resolved is final: its per-mitra sums are written once (`RolledUpDay` marks
the day done) and read instead of the raw rows. Days not rolled up yet (today, or
any day the beat task has not reached) are aggregated live from the log.
"""

from django.conf import settings
from django.db import models


class RolledUpDay(models.Model):
    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "activity_rolled_up_days"
        constraints = [models.UniqueConstraint(fields=["time_zone", "day"], name="one_rollup_per_day")]

    def __str__(self) -> str:
        return f"{self.day} ({self.time_zone})"


class MitraDailyActivity(models.Model):
    """One mitra's additive figures for one final day in one time zone."""

    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    mitra = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notified = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    response_time_sum = models.FloatField(default=0)
    answered = models.PositiveIntegerField(default=0)
    active_session_sum = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    seen = models.PositiveIntegerField(default=0)
    delivered_accepted = models.PositiveIntegerField(default=0)
    delivered_rate_base = models.PositiveIntegerField(default=0)
    delivered_answered = models.PositiveIntegerField(default=0)  # delivered, then accepted or rejected

    class Meta:
        db_table = "activity_mitra_daily"
        constraints = [models.UniqueConstraint(fields=["time_zone", "day", "mitra"], name="one_rollup_row")]
        indexes = [models.Index(fields=["time_zone", "day"], name="rollup_tz_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.mitra_id}: {self.notified}"
