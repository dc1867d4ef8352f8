"""A fan-out past PostgreSQL's 65,535 bind parameters per statement: a request offered to
more mitras than any statement could list one by one, pushed, cancelled and withdrawn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from appconfig.models import RuntimeConfig
from pairing.accounts.models import Device, Role
from pairing.events.models import EventBatch, UserEvent
from pairing.models import Offer
from pairing.push.models import PushAttempt, PushKind, PushStatus
from pairing.push.tasks import push_unproven_offers
from tests.support import add_users, make_account

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the bind-parameter limit and generate_series are PostgreSQL's"
)

pytestmark = on_postgres

MITRAS = 70_000  # one bind parameter each would be past PostgreSQL's 65,535
WITH_DEVICES = 300  # mitras with a phone and no socket: pushed


def add_devices(user_ids: list[int]) -> None:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Device._meta.db_table} (user_id, token, platform, is_active, created_at, updated_at,"
            " deactivated_reason)"
            " SELECT id, 'many-token-' || id, 'android', true, %s, %s, '' FROM unnest(%s::int[]) AS id",
            [now, now, user_ids],
        )


def test_a_request_reaches_more_mitras_than_one_statement_could_bind(transactional_db, fcm):
    mitra_ids = add_users(MITRAS, "many-mitra", Role.MITRA)
    add_devices(mitra_ids[:WITH_DEVICES])
    customer = make_account(Role.CUSTOMER)

    create = customer.post("/api/customer/chat-requests/", {"duration_minutes": 30})
    assert create.status_code == 201, create.content
    session_id = create.json()["session_id"]
    assert Offer.objects.filter(session_id=session_id).count() == MITRAS
    assert UserEvent.objects.filter(batch__type="chat_request.new").count() == MITRAS
    # Every phone of a mitra with no socket got the offer, once.
    assert len({m["message"]["token"] for m in fcm.messages}) == len(fcm.messages) == WITH_DEVICES
    assert PushAttempt.objects.filter(kind=PushKind.NEW_REQUEST, status=PushStatus.SENT).count() == WITH_DEVICES

    # The fallback looks at every unproven offer and finds each device already pushed.
    config = RuntimeConfig.load()
    Offer.objects.update(notified_at=timezone.now() - timedelta(seconds=config.push_fallback_seconds + 1))
    assert push_unproven_offers() == 0

    cancel = customer.post(f"/api/customer/chat-requests/{session_id}/cancel/")
    assert cancel.status_code == 200, cancel.content
    assert Offer.objects.filter(session_id=session_id, response="cancelled").count() == MITRAS
    assert UserEvent.objects.filter(batch__type="chat_request.cancelled").count() == MITRAS
    assert PushAttempt.objects.filter(kind=PushKind.WITHDRAWN, status=PushStatus.SENT).count() == WITH_DEVICES
    # Every subscriber took every event: nothing is left for the relay.
    assert not EventBatch.objects.filter(dispatched_at__isnull=True).exists()
