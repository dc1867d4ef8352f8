"""`manage.py seed_history`: past days of believable traffic for a developer's database,
every outcome and response in it, figures the dashboard reads back, and a second run
that adds nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from activity import selectors
from common.days import day_start
from pairing.models import ChatRequest, Offer, SessionClosure


@pytest.mark.django_db
def test_seed_history_fills_the_days_before_today_once():
    out = StringIO()
    call_command("seed_history", "--days", "7", "--seed", "7", stdout=out)
    assert out.getvalue().startswith("History: 7 new days")
    today = timezone.localdate()
    requests = ChatRequest.objects.all()
    assert not requests.filter(requested_at__gte=day_start(today)).exists()  # today is live traffic's
    days = {timezone.localtime(r).date() for r in requests.values_list("requested_at", flat=True)}
    assert days == {today - timedelta(days=n) for n in range(1, 8)}
    hours = {timezone.localtime(r).hour for r in requests.values_list("requested_at", flat=True)}
    assert len(hours) >= 18  # through the day, not one burst
    assert set(requests.values_list("status", flat=True)) == {"closed", "expired", "cancelled"}
    assert set(Offer.objects.values_list("response", flat=True)) == {
        "accepted", "rejected", "ignored", "missed", "cancelled",
    }  # fmt: skip
    assert Offer.objects.filter(delivered_at__isnull=True).exists() and Offer.objects.filter(seen_at__isnull=False)
    # Every accepted request has exactly one accepted offer, by its mitra.
    for request in requests.filter(status="closed").prefetch_related("offers")[:200]:
        accepted = [o for o in request.offers.all() if o.response == "accepted"]
        assert [o.mitra_id for o in accepted] == [request.mitra_id]
    table = selectors.mitra_activity(today - timedelta(days=29), today, None)
    assert table.totals.notified == Offer.objects.count() > 0
    assert table.totals.accepted == requests.filter(status="closed").count()

    counts = (requests.count(), Offer.objects.count(), SessionClosure.objects.count())
    again = StringIO()
    call_command("seed_history", "--days", "7", stdout=again)
    assert again.getvalue().startswith("History: 0 new days")
    assert (ChatRequest.objects.count(), Offer.objects.count(), SessionClosure.objects.count()) == counts
