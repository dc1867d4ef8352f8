"""Section 11's figures in the staff API and page: delivered, seen, delivery rate and
acceptance over delivered offers, checked against their definitions on a seeded log,
live and from the daily rollups."""

from __future__ import annotations

from datetime import timedelta

from activity.services import roll_up_final_days
from pairing.models import Offer
from tests.support import at

API = "/api/control-center/mitra-activity/"
RANGE = {"date_from": "2026-11-10", "date_to": "2026-11-12"}


def deliver(seeded) -> None:
    """Some offers reached the app (ayu's accepted and ignored ones, budi's rejected), one was also seen."""
    rows = Offer.objects.filter(notified_at__gte=at("2026-11-10 00:00"))
    for row in rows:
        if (row.mitra.username, row.response) in {("ayu", "accepted"), ("ayu", "ignored"), ("budi", "rejected")}:
            row.delivered_at, row.delivered_via = row.notified_at + timedelta(seconds=1), "websocket"
            row.save(update_fields=["delivered_at", "delivered_via"])
    first = rows.filter(mitra__username="ayu", response="accepted").order_by("notified_at").first()
    first.seen_at = first.notified_at + timedelta(seconds=2)
    first.save(update_fields=["seen_at"])


def expected_for(rows: list[Offer]) -> dict:
    delivered = [r for r in rows if r.delivered_at]
    base = [r for r in delivered if r.response in ("accepted", "rejected", "ignored")]
    return {
        "delivered": len(delivered),
        "seen": sum(1 for r in rows if r.seen_at),
        "delivery_rate": len(delivered) / len(rows) if rows else None,
        "delivered_acceptance_rate": sum(r.response == "accepted" for r in base) / len(base) if base else None,
    }


def check(staff, seeded) -> None:
    body = staff.get(API, data=RANGE).json()
    rows = list(Offer.objects.filter(
        notified_at__gte=at("2026-11-10 00:00"), notified_at__lt=at("2026-11-13 00:00")
    ).select_related("mitra"))  # fmt: skip
    for result in body["results"]:
        mine = [r for r in rows if r.mitra_id == result["mitra_id"]]
        assert {k: result[k] for k in expected_for(mine)} == expected_for(mine), result["display_name"]
    assert {k: body["totals"][k] for k in expected_for(rows)} == expected_for(rows)


def test_delivered_figures_match_their_definitions(seeded, staff, client):
    deliver(seeded)
    body = staff.get(API, data=RANGE).json()
    ayu = next(r for r in body["results"] if r["display_name"] == "Display ayu")
    # ayu in range: accepted twice (delivered), rejected, ignored (delivered), missed → 3 of 5 delivered,
    # acceptance over delivered = 2 accepted of (2 accepted + 1 ignored).
    assert (ayu["delivered"], ayu["seen"], ayu["delivery_rate"]) == (3, 1, 3 / 5)
    assert ayu["delivered_acceptance_rate"] == 2 / 3
    dewi = next(r for r in body["results"] if r["display_name"] == "Display dewi")
    assert (dewi["delivered"], dewi["delivery_rate"], dewi["delivered_acceptance_rate"]) == (0, None, None)
    check(staff, seeded)
    client.force_login(staff.user)
    page = client.get("/control-center/mitra-activity/", RANGE).content.decode()
    assert "60% (3 of 5)" in page and "67% (2 of 3)" in page


def test_rollups_give_the_same_delivered_figures(seeded, staff):
    deliver(seeded)
    live = staff.get(API, data=RANGE).json()
    assert roll_up_final_days()
    assert staff.get(API, data=RANGE).json() == live


def test_proofs_that_arrive_after_a_day_was_rolled_up_still_count(seeded, staff):
    """Contract section 12: a late ack or `seen/` (an app opened days later) changes the
    figures of a day already rolled up, page, CSV and API alike, as the rows say."""
    from pairing.requests.services import mark_delivered, mark_seen

    deliver(seeded)
    assert roll_up_final_days()
    ayu, budi = seeded["ayu"].user, seeded["budi"].user
    missed = Offer.objects.get(mitra=ayu, response="missed")
    mark_delivered(mitra=ayu, session_ids=[str(missed.session_id)], via="websocket")
    ignored = Offer.objects.get(mitra=budi, response="ignored")
    mark_seen(mitra=budi, session_id=ignored.session_id, via="push")  # delivered and seen at once
    again = mark_delivered(mitra=ayu, session_ids=[str(missed.session_id)], via="websocket")
    assert again == 0  # a proof counts once
    check(staff, seeded)  # every figure as the rows say, from the rollups
    body = staff.get(API, data=RANGE).json()
    budi_row = next(r for r in body["results"] if r["mitra_id"] == budi.id)
    assert (budi_row["delivered"], budi_row["seen"]) == (2, 1)
