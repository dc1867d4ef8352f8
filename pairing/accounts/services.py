"""Writes of accounts: creating them, signing in, mitra availability, FCM devices."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authtoken.models import Token

from common.errors import NotFound

from ..events.bus import tell_staff_on_commit
from ..locking import locked
from .models import Device, MitraProfile, Role, User

logger = logging.getLogger(__name__)

STAFF_GROUP = "Control center staff"
STAFF_APPS = ("appconfig", "pairing", "activity", "axes")  # axes: seeing and lifting sign-in locks


@transaction.atomic
def create_or_update_account(*, username: str, role: str, password: str, display_name: str = "") -> tuple[User, bool]:
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


# --- sign-in -------------------------------------------------------------------


class LoginThrottled(exceptions.Throttled):
    pass


def login(*, username: str, password: str, request: HttpRequest) -> tuple[User, Token] | None:
    """The user and its token for good credentials; None otherwise.

    django-axes (in `authenticate`) counts failures per username and address together and
    refuses a locked pair: the contract's 429 `throttled`, with when to try again.
    """
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):  # Django's authenticate() swallows axes' refusal
        raise LoginThrottled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    if user is None:
        return None
    # A token sign-in is a sign-in: last_login, and axes clears this pair's failures.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    token, _ = Token.objects.get_or_create(user=user)
    return user, token


# --- mitra availability and devices ------------------------------------------------


def set_mitra_availability(*, mitra: User, is_available: bool) -> MitraProfile:
    profile, _ = MitraProfile.objects.get_or_create(user=mitra)
    if profile.is_available != is_available:
        profile.is_available = is_available
        profile.save(update_fields=["is_available"])
        tell_staff_on_commit(what="mitra.availability", user_ids=[mitra.id])
    return profile


def register_device(*, user: User, token: str, platform: str) -> tuple[Device, bool]:
    """Register an FCM token to `user`; returns (device, newly this user's)."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                device = locked(Device.objects.filter(token=token)).first()
                if device is None:
                    return Device.objects.create(user=user, token=token, platform=platform), True
                is_new_for_user = device.user_id != user.id
                device.user = user
                device.platform = platform
                device.is_active = True
                device.deactivated_reason = ""
                device.save()
                return device, is_new_for_user
        except IntegrityError:
            if attempt:  # pragma: no cover - a second concurrent insert of the same token
                raise
    raise AssertionError("unreachable")


def unregister_device(*, user: User, token: str) -> None:
    deleted, _ = Device.objects.filter(user=user, token=token).delete()
    if not deleted:
        raise NotFound()
