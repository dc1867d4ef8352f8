"""FCM pushes through pyfcm against a fake FCM service (contract section 8)."""

from __future__ import annotations

import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import override_settings

from pairing.models import Device, PushAttempt, User
from pairing.realtime import presence
from pairing.requests.services import (
    accept_chat_request,
    cancel_chat_request,
    create_chat_request,
    expire_overdue_requests,
)
from tests.support import make_account, requires_postgres


@pytest.fixture
def committing(transactional_db):
    """Run a service as in production: it commits, then its events reach their subscribers
    (push tasks included) on the dispatch thread, which reads what committed."""

    def run(service, **kwargs):
        return service(**kwargs)

    return run


def device_for(account, token: str, platform: str = "android") -> Device:
    response = account.post("/api/devices/", {"token": token, "platform": platform})
    assert response.status_code == 201
    return Device.objects.get(token=token)


def attempts(device: Device) -> list[tuple[int, str]]:
    return list(PushAttempt.objects.filter(device=device).order_by("id").values_list("attempt", "status"))


def test_offline_mitra_gets_one_push_per_device(fcm, committing):
    mitra, customer = make_account("mitra"), make_account("customer")
    phone, tablet = device_for(mitra, "tok-phone"), device_for(mitra, "tok-tablet", "ios")
    session = committing(create_chat_request, customer=customer.user, duration_minutes=25)

    assert len(fcm.messages) == 2
    message = fcm.sent_to("tok-phone")[0]["message"]
    assert message["data"] == {
        "type": "chat_request",
        "session_id": str(session.id),
        "expires_at": session.expires_at.isoformat(),
    }
    assert message["notification"]["title"] == "Permintaan chat baru"
    assert message["android"]["priority"] == "high"
    assert message["android"]["collapse_key"] == str(session.id)
    ttl = int(message["android"]["ttl"].rstrip("s"))
    assert 55 <= ttl <= 60  # the seconds left on the offer
    ios = fcm.sent_to("tok-tablet")[0]["message"]
    assert ios["apns"]["headers"]["apns-collapse-id"] == str(session.id)
    for device in (phone, tablet):
        attempt = PushAttempt.objects.get(device=device)
        assert (attempt.status, attempt.kind, attempt.session_id) == ("sent", "new_request", session.id)
        assert attempt.fcm_message_id.startswith("projects/fake-project/messages/")


def test_mitra_with_an_open_socket_is_not_pushed(fcm, committing):
    online, offline, customer = make_account("mitra"), make_account("mitra"), make_account("customer")
    device_for(online, "tok-online")
    device_for(offline, "tok-offline")
    async_to_sync(presence.connected)(online.id, "test-connection")
    try:
        committing(create_chat_request, customer=customer.user, duration_minutes=10)
    finally:
        async_to_sync(presence.disconnected)(online.id, "test-connection")
    assert fcm.sent_to("tok-online") == []
    assert len(fcm.sent_to("tok-offline")) == 1


def test_unregistered_or_invalid_token_is_deactivated(fcm, committing):
    mitra, customer = make_account("mitra"), make_account("customer")
    gone, bad, good = device_for(mitra, "tok-gone"), device_for(mitra, "tok-bad"), device_for(mitra, "tok-good")
    fcm.script("tok-gone", "unregistered")
    fcm.script("tok-bad", "invalid")
    session = committing(create_chat_request, customer=customer.user, duration_minutes=10)
    for device in (gone, bad):
        device.refresh_from_db()
        assert device.is_active is False and device.deactivated_reason
        assert attempts(device) == [(1, "invalid_token")]
    assert attempts(good) == [(1, "sent")]
    assert "not a valid FCM registration token" in PushAttempt.objects.get(device=bad).error
    assert PushAttempt.objects.get(device=gone).error.startswith("unregistered")
    # The next request is not pushed to deactivated devices.
    committing(cancel_chat_request, customer=customer.user, session_id=session.id)
    committing(create_chat_request, customer=customer.user, duration_minutes=10)
    assert len(fcm.sent_to("tok-gone")) == 1 and len(fcm.sent_to("tok-bad")) == 1
    assert len([m for m in fcm.sent_to("tok-good") if "notification" in m["message"]]) == 2


def test_server_error_is_retried_with_each_attempt_recorded(fcm, committing):
    mitra, customer = make_account("mitra"), make_account("customer")
    device = device_for(mitra, "tok-flaky")
    fcm.script("tok-flaky", "server_error", "server_error")
    committing(create_chat_request, customer=customer.user, duration_minutes=10)
    assert attempts(device) == [(1, "failed"), (2, "failed"), (3, "sent")]
    assert "server error" in PushAttempt.objects.filter(device=device).first().error
    assert len(fcm.sent_to("tok-flaky")) == 3
    device.refresh_from_db()
    assert device.is_active


@override_settings(FCM_MAX_ATTEMPTS=2)
def test_retries_stop_at_the_limit(fcm, committing):
    mitra, customer = make_account("mitra"), make_account("customer")
    device = device_for(mitra, "tok-down")
    fcm.script("tok-down", "server_error", "server_error", "server_error")
    committing(create_chat_request, customer=customer.user, duration_minutes=10)
    assert attempts(device) == [(1, "failed"), (2, "failed")]


def test_without_credentials_pushes_are_recorded_as_not_sent(settings, committing):
    settings.FCM_SERVICE_ACCOUNT_FILE = ""
    settings.FCM_PROJECT_ID = ""
    mitra, customer = make_account("mitra"), make_account("customer")
    device = device_for(mitra, "tok-x")
    session = committing(create_chat_request, customer=customer.user, duration_minutes=10)
    attempt = PushAttempt.objects.get(device=device)
    assert (attempt.status, attempt.session_id) == ("not_sent", session.id)
    assert "credentials" in attempt.error
    device.refresh_from_db()
    assert device.is_active


@pytest.mark.parametrize(("resolve", "status"), [("cancel", "cancelled"), ("accept", "taken"), ("expire", "expired")])
def test_pushed_mitras_get_a_data_only_withdrawal(fcm, committing, resolve, status):
    pushed, winner, customer = make_account("mitra"), make_account("mitra"), make_account("customer")
    device_for(pushed, "tok-pushed")
    device_for(winner, "tok-winner")
    session = committing(create_chat_request, customer=customer.user, duration_minutes=10)
    if resolve == "cancel":
        committing(cancel_chat_request, customer=customer.user, session_id=session.id)
    elif resolve == "accept":
        committing(accept_chat_request, mitra=winner.user, session_id=session.id)
    else:
        from tests.support import make_overdue

        make_overdue(session.id)
        committing(expire_overdue_requests)
    withdrawal = fcm.sent_to("tok-pushed")[-1]["message"]
    assert "notification" not in withdrawal
    assert withdrawal["data"] == {"type": "chat_request_withdrawn", "session_id": str(session.id), "status": status}
    assert withdrawal["android"]["collapse_key"] == str(session.id)
    winner_messages = fcm.sent_to("tok-winner")
    assert len(winner_messages) == (1 if resolve == "accept" else 2)  # the winner is not told it was taken


def test_push_attempts_are_listed_in_the_admin(fcm, committing, client):
    from django.core.management import call_command

    mitra, customer = make_account("mitra"), make_account("customer")
    device_for(mitra, "tok-admin")
    fcm.script("tok-admin", "unregistered")
    committing(create_chat_request, customer=customer.user, duration_minutes=10)
    call_command("create_account", "boss", role="staff", password="pw-123456")
    client.force_login(User.objects.get(username="boss"))
    page = client.get("/admin/pairing/pushattempt/")
    assert page.status_code == 200
    assert b"Invalid Token" in page.content  # the status
    assert b"unregistered: Token not registered" in page.content  # and FCM's error


def test_a_socket_that_proves_nothing_gets_its_phones_pushed_after_the_fallback(fcm, committing, settings):
    """Contract section 12: an open socket whose app never acks (half-open, frozen) is no
    reason to stay silent; after push_fallback_seconds its devices are pushed, once."""
    from appconfig.models import RuntimeConfig
    from pairing.push.tasks import push_unproven_offers
    from pairing.requests.services import decline_chat_request, mark_seen

    config = RuntimeConfig.load()
    config.push_fallback_seconds = 1
    config.save()
    silent, acking, answering, customer = (make_account(role) for role in ("mitra", "mitra", "mitra", "customer"))
    for mitra, token in ((silent, "tok-silent"), (acking, "tok-acking"), (answering, "tok-answering")):
        device_for(mitra, token)
        async_to_sync(presence.connected)(mitra.id, f"conn-{token}")
    try:
        session = committing(create_chat_request, customer=customer.user, duration_minutes=10)
        assert fcm.messages == []  # every mitra had a socket open at fan-out
        assert push_unproven_offers() == 0  # not yet due
        mark_seen(mitra=acking.user, session_id=session.id, via="poll")  # this app proved it
        committing(decline_chat_request, mitra=answering.user, session_id=session.id)  # and this one answered
        time.sleep(1.1)
        assert push_unproven_offers() == 1
        assert push_unproven_offers() == 0  # claimed: never twice
        assert [m["message"]["data"]["session_id"] for m in fcm.sent_to("tok-silent")] == [str(session.id)]
        assert fcm.sent_to("tok-acking") == [] and fcm.sent_to("tok-answering") == []
        config.push_fallback_seconds = 0  # off: nothing is pushed however long the offer waits
        config.save()
        other = committing(create_chat_request, customer=make_account("customer").user, duration_minutes=10)
        time.sleep(1.1)
        assert push_unproven_offers() == 0
        assert not any(m["message"]["data"]["session_id"] == str(other.id) for m in fcm.messages)
    finally:
        for mitra, token in ((silent, "tok-silent"), (acking, "tok-acking"), (answering, "tok-answering")):
            async_to_sync(presence.disconnected)(mitra.id, f"conn-{token}")


# Six writers at once: SQLite's test database locks a whole table under them ("database
# table is locked"), so an attempt's own write fails and is retried; the rows' uniqueness
# this checks is PostgreSQL's, in production.
@requires_postgres
def test_exactly_one_push_per_offer_and_device_however_many_ask_at_once(fcm, committing):
    """Two beats' fallbacks, the relay's second dispatch and the first dispatch, racing."""
    from appconfig.models import RuntimeConfig
    from pairing.push.models import PushKind
    from pairing.push.tasks import push_new_request, push_unproven_offers, send_push

    config = RuntimeConfig.load()
    config.push_fallback_seconds = 1
    config.save()
    mitra, customer = make_account("mitra"), make_account("customer")
    phone, tablet = device_for(mitra, "tok-race-phone"), device_for(mitra, "tok-race-tablet")
    async_to_sync(presence.connected)(mitra.id, "conn-race")
    try:
        session = committing(create_chat_request, customer=customer.user, duration_minutes=10)
    finally:
        async_to_sync(presence.disconnected)(mitra.id, "conn-race")
    time.sleep(1.1)
    start = threading.Barrier(6)

    def racing(call):
        def run():
            start.wait()
            call()
            connection.close()

        return threading.Thread(target=run)

    threads = [
        racing(push_unproven_offers), racing(push_unproven_offers),
        racing(lambda: push_new_request(str(session.id), [mitra.id])),
        racing(lambda: push_new_request(str(session.id), [mitra.id])),
        racing(lambda: send_push(phone.id, str(session.id), PushKind.NEW_REQUEST, 1)),
        racing(lambda: send_push(tablet.id, str(session.id), PushKind.NEW_REQUEST, 1)),
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(fcm.sent_to("tok-race-phone")) == 1
    assert len(fcm.sent_to("tok-race-tablet")) == 1
    assert attempts(phone) == [(1, "sent")] and attempts(tablet) == [(1, "sent")]
