"""Accounts, login, mitra availability, shared config, devices (contract sections 2 and 6)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from appconfig.models import RuntimeConfig
from pairing.models import Device, MitraProfile, Role, User

LOGIN = "/api/auth/token/"


def test_create_account_creates_and_updates(db, capsys):
    call_command("create_account", "ayu", role="mitra", password="pw-123456", display_name="Bestie Ayu")
    user = User.objects.get(username="ayu")
    assert (user.role, user.display_name, user.mitra_profile.is_available) == (Role.MITRA, "Bestie Ayu", True)
    call_command("create_account", "ayu", role="mitra", password="new-pass-1")
    user.refresh_from_db()
    assert user.check_password("new-pass-1") and user.display_name == "Bestie Ayu"
    assert "Updated mitra account 'ayu'" in capsys.readouterr().out


def test_staff_account_may_use_admin(db, client):
    call_command("create_account", "boss", role="staff", password="pw-123456")
    signed_in = client.post("/admin/login/", {"username": "boss", "password": "pw-123456", "next": "/admin/"})
    assert signed_in.status_code == 302
    page = client.get("/admin/appconfig/runtimeconfig/", follow=True)  # the one config row
    assert page.status_code == 200
    assert page.redirect_chain[-1][0].endswith("/change/")
    assert b"request_timeout_seconds" in page.content


def test_login_returns_token_role_and_name(db, anon):
    call_command("create_account", "cus", role="customer", password="pw-123456", display_name="Cus Tomer")
    response = anon.post(LOGIN, {"username": "cus", "password": "pw-123456"}, format="json")
    assert response.status_code == 200
    body = response.json()
    user = User.objects.get(username="cus")
    assert body == {"token": user.auth_token.key, "role": "customer", "user_id": user.id, "display_name": "Cus Tomer"}
    me = anon.get("/api/shared/config/", HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.status_code == 200


def test_wrong_credentials_are_400_invalid_credentials(db, anon):
    call_command("create_account", "cus", role="customer", password="pw-123456")
    response = anon.post(LOGIN, {"username": "cus", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert anon.post(LOGIN, {"username": "ghost", "password": "x"}, format="json").status_code == 400


def _login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_login_failures_lock_that_username_on_that_address(db, anon):
    call_command("create_account", "cus", role="customer", password="pw-123456")
    assert [_login(anon, "cus", "bad").status_code for _ in range(3)] == [400, 400, 429]  # the third locks
    blocked = _login(anon, "cus", "pw-123456")  # even the right password, from there
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "throttled"
    assert int(blocked["Retry-After"]) > 0


@override_settings(AXES_FAILURE_LIMIT=3)
def test_an_attacker_elsewhere_cannot_lock_a_mitra_out(db, anon):
    call_command("create_account", "ayu", role="mitra", password="pw-123456")
    call_command("create_account", "budi", role="mitra", password="pw-654321")
    for _ in range(5):
        _login(anon, "ayu", "guess", address="203.0.113.9")
    assert _login(anon, "ayu", "guess", address="203.0.113.9").status_code == 429
    # Ayu on her own phone, and another mitra behind the attacker's address, sign in.
    assert _login(anon, "ayu", "pw-123456", address="10.1.2.3").status_code == 200
    assert _login(anon, "budi", "pw-654321", address="203.0.113.9").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_successful_logins_are_not_throttled(db, anon):
    call_command("create_account", "cus", role="customer", password="pw-123456")
    for _ in range(6):
        assert _login(anon, "cus", "pw-123456").status_code == 200
    for _ in range(2):  # a success clears earlier failures
        _login(anon, "cus", "bad")
    assert _login(anon, "cus", "pw-123456").status_code == 200
    for _ in range(2):
        _login(anon, "cus", "bad")
    assert _login(anon, "cus", "pw-123456").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_staff_see_and_lift_a_lock_in_the_admin(db, anon, client):
    call_command("create_account", "ayu", role="mitra", password="pw-123456")
    call_command("create_account", "boss", role="staff", password="pw-boss-1")
    for _ in range(3):
        _login(anon, "ayu", "bad")
    assert _login(anon, "ayu", "pw-123456").status_code == 429
    client.force_login(User.objects.get(username="boss"))
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and b"ayu" in page.content and b"10.0.0.1" in page.content
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username="ayu")
    lifted = client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    )
    assert lifted.status_code == 302
    assert _login(anon, "ayu", "pw-123456").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_mitras_admin_page_shows_presence_sessions_devices_and_the_lock_and_unlocks(db, anon, client):
    from pairing.push.models import PushAttempt

    call_command("create_account", "ayu", role="mitra", password="pw-123456")
    call_command("create_account", "boss", role="staff", password="pw-boss-1")
    ayu = User.objects.get(username="ayu")
    device = Device.objects.create(user=ayu, token="tok-" + "x" * 40 + "ABCD1234", platform="android")
    PushAttempt.objects.create(device=device, user=ayu, kind="chat_request", status="invalid_token",
                               error="Requested entity was not found.")  # fmt: skip
    for _ in range(3):
        _login(anon, "ayu", "bad")
    assert _login(anon, "ayu", "pw-123456").status_code == 429
    client.force_login(User.objects.get(username="boss"))
    page = client.get(f"/admin/pairing/user/{ayu.id}/change/").content.decode()
    assert "Mitra now" in page and "online now" in page.lower()
    assert "locked after 4 failed sign-ins" in page  # the refused right password counts too
    assert "…ABCD1234" in page and "invalid_token at" in page and "Requested entity was not found." in page
    assert "1 of 1" in page  # failures this week
    listing = client.get("/admin/pairing/user/?role=mitra").content.decode()
    assert "available" in listing
    done = client.post("/admin/pairing/user/", {"action": "unlock_sign_in", "_selected_action": [ayu.pk]}, follow=True)
    assert "Cleared 1 failed sign-in records." in done.content.decode()
    assert _login(anon, "ayu", "pw-123456").status_code == 200
    assert "not locked" in client.get(f"/admin/pairing/user/{ayu.id}/change/").content.decode()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_staff_login_forms_are_protected_too(db, client):
    call_command("create_account", "boss", role="staff", password="pw-boss-1")
    for path in ("/control-center/login/", "/admin/login/"):
        tries = [
            client.post(path, {"username": "boss", "password": "wrong"}, REMOTE_ADDR="198.51.100.7") for _ in range(3)
        ]
        assert [page.status_code for page in tries] == [200, 200, 429]  # the form with its error, then locked
        locked = client.post(path, {"username": "boss", "password": "pw-boss-1"}, REMOTE_ADDR="198.51.100.7")
        assert locked.status_code == 429
        assert b"Too many sign-in attempts" in locked.content
        elsewhere = client.post(path, {"username": "boss", "password": "pw-boss-1"}, REMOTE_ADDR="192.0.2.1")
        assert elsewhere.status_code == 302  # signed in from another address
        client.logout()
        from axes.models import AccessAttempt

        AccessAttempt.objects.all().delete()


def test_mitra_me_and_availability(make_mitra):
    mitra = make_mitra()
    body = mitra.get("/api/mitra/me/").json()
    assert body == {
        "user_id": mitra.id,
        "display_name": mitra.user.display_name,
        "is_available": True,
        "active_session_count": 0,
    }
    assert mitra.patch("/api/mitra/me/", {"is_available": False}).json()["is_available"] is False
    assert mitra.get("/api/mitra/me/").json()["is_available"] is False
    for bad in ("no", 0, None, "false"):
        response = mitra.patch("/api/mitra/me/", {"is_available": bad})
        assert response.status_code == 400
        assert "is_available" in response.json()["error"]["fields"]


def test_a_token_signs_in_its_own_user_only_while_active(make_mitra, customer, django_assert_num_queries):
    """The token read is hand-written SQL: it must load the same user and profile the
    ORM would, refuse a deactivated account, and cope with a mitra without a profile."""
    mitra = make_mitra()
    with django_assert_num_queries(2):  # the token with user and profile; the session count
        body = mitra.get("/api/mitra/me/").json()
    assert (body["user_id"], body["display_name"]) == (mitra.id, mitra.user.display_name)
    assert customer.get("/api/events/?since=0").status_code == 200  # a customer: no profile row
    assert customer.get("/api/mitra/me/").status_code == 403

    MitraProfile.objects.filter(user=mitra.user).delete()  # made again on first use
    assert mitra.get("/api/mitra/me/").json()["is_available"] is True
    assert MitraProfile.objects.filter(user=mitra.user).exists()

    User.objects.filter(pk=mitra.id).update(is_active=False)
    response = mitra.get("/api/mitra/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_shared_config_defaults_for_every_role(customer, make_mitra, staff):
    for account in (customer, make_mitra(), staff):
        body = account.get("/api/shared/config/").json()
        assert body["early_end_mitra_enabled"] is False
        assert body["early_end_customer_enabled"] is False
        assert body["request_timeout_seconds"] == 60
        assert body["closing_grace_seconds"] == 300
        assert [r["code"] for r in body["early_end_reasons"]] == [
            "customer_abusive", "customer_left", "out_of_scope", "other",
        ]  # fmt: skip
        assert all(r["label"] for r in body["early_end_reasons"])


def test_appconfig_command_prints_and_sets_with_validation(db, capsys):
    call_command("appconfig")
    assert "request_timeout_seconds=60" in capsys.readouterr().out
    call_command("appconfig", "request_timeout_seconds=30", "early_end_mitra_enabled=true")
    config = RuntimeConfig.load()
    assert (config.request_timeout_seconds, config.early_end_mitra_enabled) == (30, True)
    for bad in ("request_timeout_seconds=0", "request_timeout_seconds=abc", "nope=1", "early_end_mitra_enabled=maybe"):
        with pytest.raises(CommandError):
            call_command("appconfig", bad)
    assert RuntimeConfig.load().request_timeout_seconds == 30
    call_command("appconfig", "early_end_mitra_enabled=false")
    assert RuntimeConfig.load().early_end_mitra_enabled is False


def test_config_change_is_seen_by_the_next_call(customer):
    assert customer.get("/api/shared/config/").json()["request_timeout_seconds"] == 60
    call_command("appconfig", "request_timeout_seconds=45")
    assert customer.get("/api/shared/config/").json()["request_timeout_seconds"] == 45


def test_device_registration_moves_and_deletes(make_mitra, customer):
    mitra, other = make_mitra(), make_mitra()
    first = mitra.post("/api/devices/", {"token": "fcm-token-1", "platform": "android"})
    assert first.status_code == 201
    assert mitra.post("/api/devices/", {"token": "fcm-token-1", "platform": "android"}).status_code == 200
    moved = other.post("/api/devices/", {"token": "fcm-token-1", "platform": "ios"})
    assert moved.status_code == 201
    device = Device.objects.get(token="fcm-token-1")
    assert (device.user_id, device.platform) == (other.id, "ios")
    # It is not the first mitra's any more.
    assert mitra.delete("/api/devices/fcm-token-1/").status_code == 404
    assert other.delete("/api/devices/fcm-token-1/").status_code == 204
    assert not Device.objects.filter(token="fcm-token-1").exists()
    assert customer.post("/api/devices/", {"token": "c-1", "platform": "web"}).status_code == 201


def test_device_with_bad_platform_is_invalid(customer):
    response = customer.post("/api/devices/", {"token": "t", "platform": "symbian"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["platform"]
