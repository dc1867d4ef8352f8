"""Creating accounts: one place for the management command and the demo seed."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import MitraProfile, Role, User

STAFF_GROUP = "Control center staff"
STAFF_APPS = ("appconfig", "pairing", "activity")


@transaction.atomic
def create_or_update_account(username: str, role: str, password: str, display_name: str = "") -> tuple[User, bool]:
    username = username.strip()
    if not username:
        raise ValueError("username must not be empty")
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    if not password:
        raise ValueError("password must not be empty")
    user, created = User.objects.get_or_create(username=username)
    user.role = role
    if display_name or created:
        user.display_name = display_name or username
    user.is_staff = role == Role.STAFF
    user.is_active = True
    user.set_password(password)
    user.save()
    if role == Role.MITRA:
        MitraProfile.objects.get_or_create(user=user)
    if role == Role.STAFF:
        user.groups.add(staff_group())
    else:
        user.groups.remove(*Group.objects.filter(name=STAFF_GROUP))
    Token.objects.get_or_create(user=user)
    return user, created


def staff_group() -> Group:
    """Staff may run the business in the admin: every permission of this project's apps."""
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=STAFF_APPS))
    return group
