"""FCM pushes through pyfcm against a fake FCM service (contract section 8)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings

from pairing.models import Device, PushAttempt, User
from pairing.realtime import presence
from pairing.requests.services import (
    accept_chat_request,
    cancel_chat_request,
    create_chat_request,
    expire_overdue_requests,
)
from tests.support import make_account
from tests.support.fake_fcm import FakeFCM


@pytest.fixture
def fcm(tmp_path, settings):
    with FakeFCM() as fake:
        settings.FCM_SERVICE_ACCOUNT_FILE = fake.service_account_file(tmp_path)
        settings.FCM_PROJECT_ID = "fake-project"
        settings.FCM_ENDPOINT_BASE = f"{fake.url}/v1/projects"
        settings.FCM_RETRY_BASE_SECONDS = 0
        yield fake


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
