"""Writing the daily rollups (see `activity.models`), and the activity log's retention."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.chunks import delete_in_batches
from common.days import day_start
from pairing.models import Offer
from pairing.push import services as push_services

from . import selectors
from .models import MitraDailyActivity, RolledUpDay

# A day is rolled up only this long after it ended (requests may wait up to an hour)...
FINALITY_DELAY = timedelta(hours=2)
# A day's rollup rows go in statements of this many (each binds one parameter a figure):
# a day may have more mitras than one statement can bind.
ROLLUP_ROWS_PER_STATEMENT = 2000


def roll_up_final_days(now: datetime | None = None) -> list[date]:
    """Roll up every final day not rolled up yet, oldest first. Idempotent and safe to
    run concurrently (the day marker is unique; a second writer's transaction rolls back)."""
    now = now or timezone.now()
    time_zone = settings.TIME_ZONE
    first = Offer.objects.order_by("notified_at").values_list("notified_at", flat=True).first()
    if first is None:
        return []
    done = set(RolledUpDay.objects.filter(time_zone=time_zone).values_list("day", flat=True))
    day, rolled = timezone.localtime(first).date(), []
    while day_start(day + timedelta(days=1)) + FINALITY_DELAY <= now:
        if day not in done and _roll_up(day, time_zone):
            rolled.append(day)
        day += timedelta(days=1)
    return rolled


def _roll_up(day: date, time_zone: str) -> bool:
    rows = Offer.objects.filter(notified_at__gte=day_start(day), notified_at__lt=day_start(day + timedelta(days=1)))
    # ...and only once every request of the day is resolved (the sweep may have been down).
    if rows.filter(response__isnull=True).exists():
        return False
    with transaction.atomic():
        try:
            with transaction.atomic():
                RolledUpDay.objects.create(day=day, time_zone=time_zone)
        except IntegrityError:
            return False  # another run rolled it up first
        MitraDailyActivity.objects.bulk_create(
            [
                MitraDailyActivity(day=day, time_zone=time_zone, mitra_id=mitra_id, **figures)
                for mitra_id, figures in selectors.per_mitra(rows).items()
            ],
            batch_size=ROLLUP_ROWS_PER_STATEMENT,
        )
    return True


def prune_log(now: datetime | None = None) -> dict[str, int]:
    """Delete the activity log's rows of the days before its retention
    (settings.ACTIVITY_LOG_RETENTION_DAYS), each day only once it is rolled up: the
    control center's figures for those days come from the rollups, kept forever. The push
    attempts of the same days go with them. Returns how many of each went."""
    now = now or timezone.now()
    kept_from = selectors.log_kept_from(timezone.localdate(now))
    if kept_from is None:
        return {"offers": 0, "push_attempts": 0}
    first = Offer.objects.order_by("notified_at").values_list("notified_at", flat=True).first()
    offers = 0
    if first is not None:
        rolled = RolledUpDay.objects.filter(
            time_zone=settings.TIME_ZONE, day__gte=timezone.localdate(first), day__lt=kept_from
        ).order_by("day")
        for day in rolled.values_list("day", flat=True):
            rows = Offer.objects.filter(
                notified_at__gte=day_start(day), notified_at__lt=day_start(day + timedelta(days=1))
            )
            offers += delete_in_batches(rows)
    pushes = push_services.prune_attempts(before=day_start(kept_from))
    return {"offers": offers, "push_attempts": pushes}
