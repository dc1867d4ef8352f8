"""The runtime app config: one row that staff edit in the admin.

It is read from the database on every use, never cached in a process, so a flag
changed in the admin takes effect on the next call in every process.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class RuntimeConfig(models.Model):
    SINGLETON_ID = 1

    early_end_mitra_enabled = models.BooleanField(
        default=False,
        help_text="Mitras may end an active session early (Sesi Aktif → Akhiri).",
    )
    early_end_customer_enabled = models.BooleanField(
        default=False,
        help_text="Customers may end an active session early (not used by the mitra app).",
    )
    request_timeout_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="How long a chat request waits for a mitra before it expires.",
    )
    push_fallback_seconds = models.PositiveIntegerField(
        default=5,
        validators=[MaxValueValidator(60)],
        help_text=(
            "A notified mitra whose app has not proved an offer delivered (an ack, seen, or an answer) "
            "this many seconds after it was sent is pushed as well, on each device. 0 turns it off."
        ),
    )
    closing_grace_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(0), MaxValueValidator(3600)],
        help_text="How long a closing session stays open for goodbyes before it closes.",
    )
    early_end_mitra_daily_cap = models.PositiveIntegerField(
        default=3,
        validators=[MaxValueValidator(1000)],
        help_text=(
            "Force-closes per mitra per day (control-center time zone) before further "
            "ones are flagged for review. They are still allowed."
        ),
    )
    # The alerts on the control center's live page.
    alert_undelivered_wait_seconds = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Alert when a request has waited this long and no mitra's app has acknowledged its offer.",
    )
    alert_expired_per_15_minutes = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="Alert when at least this many requests expired in the last 15 minutes.",
    )
    alert_undelivered_in_a_row = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Alert (and mark 'app not acknowledging') when a mitra's last this many offers were never delivered.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "app_config"
        verbose_name = "runtime settings"
        verbose_name_plural = "runtime settings"

    def __str__(self) -> str:
        return "Current settings"

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_ID
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "RuntimeConfig":
        config, _ = cls.objects.get_or_create(pk=cls.SINGLETON_ID)
        return config

    @classmethod
    def editable_field_names(cls) -> list[str]:
        return [f.name for f in cls._meta.fields if f.editable and f.name not in {"id", "updated_at"}]


def get_config() -> RuntimeConfig:
    """The current config, fresh from the database."""
    return RuntimeConfig.load()


class ConfigChange(models.Model):
    """One changed key of the app config: who changed it, from what to what, and when."""

    field = models.CharField(max_length=64)
    old_value = models.CharField(max_length=64)
    new_value = models.CharField(max_length=64)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, help_text="admin or command")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "app_config_changes"
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value} → {self.new_value}"
