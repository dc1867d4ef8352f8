"""Calendar days of the control center's time zone (settings.TIME_ZONE)."""

from datetime import date, datetime, time

from django.utils import timezone


def day_start(day: date) -> datetime:
    """Midnight at the start of a calendar day in the control center's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))
