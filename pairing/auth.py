"""Token authentication, role permissions and login throttling."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from rest_framework import exceptions, permissions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from .models import Role, User

TOKEN_PATTERN = re.compile(r"^[0-9a-f]{40}$")


class StrictTokenAuthentication(TokenAuthentication):
    """DRF's token auth, refusing malformed keys before they reach the database."""

    def authenticate_credentials(self, key):
        if not TOKEN_PATTERN.match(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)


def user_for_token(key: str | None) -> User | None:
    """The active user a token key belongs to (WebSocket handshakes use this)."""
    if not key:
        return None
    try:
        user, _ = StrictTokenAuthentication().authenticate_credentials(key)
    except exceptions.AuthenticationFailed:
        return None
    return user


class HasRole(permissions.BasePermission):
    role: str = ""
    message = "This account's role may not use this endpoint."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.role == self.role)


class IsCustomer(HasRole):
    role = Role.CUSTOMER


class IsMitra(HasRole):
    role = Role.MITRA


class IsStaff(permissions.BasePermission):
    message = HasRole.message

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.role == Role.STAFF))


# --- login -------------------------------------------------------------------


class LoginThrottled(exceptions.Throttled):
    pass


def _failure_keys(username: str, address: str) -> list[str]:
    return [f"login-fail:user:{username.lower()}", f"login-fail:addr:{address}"]


def check_login_allowed(username: str, address: str) -> None:
    """429 once a username or an address has failed too often in the window."""
    counts = cache.get_many(_failure_keys(username, address))
    if any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values()):
        raise LoginThrottled(wait=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def record_login_failure(username: str, address: str) -> None:
    for key in _failure_keys(username, address):
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        cache.incr(key)


def login(username: str, password: str, address: str) -> tuple[User, Token] | None:
    """The user and its token for good credentials; None (and a recorded failure) otherwise."""
    check_login_allowed(username, address)
    user = authenticate(username=username, password=password)
    if user is None:
        record_login_failure(username, address)
        return None
    token, _ = Token.objects.get_or_create(user=user)
    return user, token
