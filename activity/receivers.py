"""Keeping the daily rollups true to the log rows they count (contract section 12: every
staff figure for a range equals what that range's rows say at the moment of reading).

A rolled-up day's responses never change (a day is rolled up only once every offer of it
is answered or resolved), but an app may prove an offer delivered, or seen, after that:
a late ack, a `seen/` from an app opened days later. Those proofs arrive here inside the
transaction that writes them (`pairing.requests.signals.offers_proven`), and the day's
rollup row moves with them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from common.chunks import chunks
from pairing.lifecycle import OfferResponse as R
from pairing.models import Offer

from .models import MitraDailyActivity, RolledUpDay

RATE_BASE = (R.ACCEPTED, R.REJECTED, R.IGNORED)
ANSWERED = (R.ACCEPTED, R.REJECTED)


def correct_rollups(sender: Any = None, *, offer_ids: list[int], delivered: bool, seen: bool, **_: Any) -> None:
    time_zone = settings.TIME_ZONE
    offers = [
        row
        for some in chunks(offer_ids)
        for row in Offer.objects.filter(id__in=some).values_list("mitra_id", "notified_at", "response")
    ]
    days = {timezone.localdate(notified_at) for _, notified_at, _ in offers}
    rolled = set(RolledUpDay.objects.filter(time_zone=time_zone, day__in=days).values_list("day", flat=True))
    if not rolled:
        return
    deltas: dict[tuple, Counter] = {}
    for mitra_id, notified_at, response in offers:
        day = timezone.localdate(notified_at)
        if day not in rolled:
            continue
        delta = deltas.setdefault((day, mitra_id), Counter())
        if delivered:
            delta["delivered"] += 1
            delta["delivered_accepted"] += response == R.ACCEPTED
            delta["delivered_rate_base"] += response in RATE_BASE
            delta["delivered_answered"] += response in ANSWERED
        if seen:
            delta["seen"] += 1
    for (day, mitra_id), delta in deltas.items():
        MitraDailyActivity.objects.filter(time_zone=time_zone, day=day, mitra_id=mitra_id).update(
            **{name: F(name) + value for name, value in delta.items() if value}
        )
