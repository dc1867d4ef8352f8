"""Staff run mitras and customers in the admin; only a superuser makes or changes power.

Every test posts the real admin form as the page rendered it (its inputs, inline
management forms included), with a staff session, and forges the fields a staff member
may not set."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from pairing.accounts.services import STAFF_GROUP
from pairing.models import MitraProfile, User

FORGED = {"is_superuser": "on", "is_staff": "on"}


class _FormFields(HTMLParser):
    """The values a browser would send for the page's main form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            else:
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields.append((name, ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_of(client, url: str) -> dict[str, list[str]]:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    parser = _FormFields()
    parser.feed(page.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


def sign_in(client, username: str):
    credentials = {"username": username, "password": f"pw-{username}-123", "next": "/admin/"}
    signed_in = client.post("/admin/login/", credentials)
    assert signed_in.status_code == 302, signed_in.content.decode()[:500]
    return client


@pytest.fixture
def accounts(db):
    for name, role in [("boss", "staff"), ("colleague", "staff"), ("ayu", "mitra"), ("cus", "customer")]:
        call_command("create_account", name, role=role, password=f"pw-{name}-123")
    User.objects.create_superuser("root", password="pw-root-123")
    return {user.username: user for user in User.objects.all()}


@pytest.fixture
def staff_session(client, accounts):
    return sign_in(client, "boss")


def _all_permission_ids() -> list[str]:
    return [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]


def test_staff_change_a_mitras_name_and_availability_but_forged_power_is_never_saved(staff_session, accounts):
    ayu = accounts["ayu"]
    url = f"/admin/pairing/user/{ayu.id}/change/"
    data = form_of(staff_session, url)
    offered = set(data)
    data.update(
        display_name=["Bestie Ayu Baru"],
        **{"mitra_profile-0-is_available": []},  # unchecked: unavailable
        **{key: [value] for key, value in FORGED.items()},
        groups=[str(Group.objects.get(name=STAFF_GROUP).pk)],
        user_permissions=_all_permission_ids(),
    )
    saved = staff_session.post(url, {k: v for k, v in data.items() if v})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    ayu.refresh_from_db()
    assert ayu.display_name == "Bestie Ayu Baru"
    assert MitraProfile.objects.get(user=ayu).is_available is False
    assert (ayu.is_superuser, ayu.is_staff) == (False, False)
    assert not ayu.groups.exists() and not ayu.user_permissions.exists()
    assert not offered & {"is_superuser", "is_staff", "groups", "user_permissions"}  # not even offered


def test_staff_cannot_give_the_staff_role(staff_session, accounts):
    cus = accounts["cus"]
    url = f"/admin/pairing/user/{cus.id}/change/"
    data = form_of(staff_session, url)
    data["role"] = ["staff"]
    refused = staff_session.post(url, data)
    assert refused.status_code == 200 and b"Select a valid choice" in refused.content
    cus.refresh_from_db()
    assert cus.role == "customer" and not cus.is_staff


@pytest.mark.parametrize("target", ["boss", "colleague", "root"])
def test_staff_only_see_staff_and_superuser_accounts(staff_session, accounts, target):
    user = accounts[target]
    url = f"/admin/pairing/user/{user.id}/change/"
    assert staff_session.get(url).status_code == 200  # they may look
    forged = {"username": user.username, "role": "staff", "display_name": "mine now", **FORGED}
    assert staff_session.post(url, forged).status_code == 403
    user.refresh_from_db()
    assert user.display_name != "mine now"
    if target == "boss":
        assert (user.is_superuser, user.groups.count()) == (False, 1)


@pytest.mark.parametrize("target", ["colleague", "root", "boss"])
def test_staff_cannot_set_a_staff_or_superuser_password(staff_session, accounts, target):
    user = accounts[target]
    url = f"/admin/pairing/user/{user.id}/password/"
    assert staff_session.get(url).status_code == 403
    posted = staff_session.post(url, {"password1": "taken-over-123!", "password2": "taken-over-123!"})
    assert posted.status_code == 403
    user.refresh_from_db()
    assert user.check_password(f"pw-{target}-123") and not user.check_password("taken-over-123!")


def test_staff_reset_a_mitras_password(staff_session, accounts):
    ayu = accounts["ayu"]
    url = f"/admin/pairing/user/{ayu.id}/password/"
    data = form_of(staff_session, url)
    data.update(password1=["a-new-one-4567"], password2=["a-new-one-4567"])
    assert staff_session.post(url, data).status_code == 302
    ayu.refresh_from_db()
    assert ayu.check_password("a-new-one-4567")


def test_staff_cannot_delete_a_superuser_from_the_list(staff_session, accounts):
    root = accounts["root"]
    staff_session.post(
        "/admin/pairing/user/", {"action": "delete_selected", "_selected_action": [root.pk], "post": "yes"}
    )
    assert User.objects.filter(pk=root.pk).exists()
    assert staff_session.post(f"/admin/pairing/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=root.pk).exists()


def test_a_superuser_may_make_a_staff_member_superuser(client, accounts):
    sign_in(client, "root")
    colleague = accounts["colleague"]
    url = f"/admin/pairing/user/{colleague.id}/change/"
    data = form_of(client, url)
    data.update(is_superuser=["on"])
    assert client.post(url, data).status_code == 302
    colleague.refresh_from_db()
    assert colleague.is_superuser
    password = f"/admin/pairing/user/{colleague.id}/password/"
    form = form_of(client, password)
    form.update(password1=["set-by-root-789"], password2=["set-by-root-789"])
    assert client.post(password, form).status_code == 302
    colleague.refresh_from_db()
    assert colleague.check_password("set-by-root-789")


def test_staff_change_their_own_password_with_the_current_one(staff_session, accounts):
    url = "/admin/password_change/"
    form = form_of(staff_session, url)
    form.update(old_password=["pw-boss-123"], new_password1=["mine-alone-4567"], new_password2=["mine-alone-4567"])
    assert staff_session.post(url, form).status_code == 302
    boss = User.objects.get(username="boss")
    assert boss.check_password("mine-alone-4567")
