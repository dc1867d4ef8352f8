"""Token authentication and role permissions, for REST and WebSocket handshakes alike."""

from __future__ import annotations

import re

from rest_framework import exceptions, permissions
from rest_framework.authentication import TokenAuthentication

from .models import Role, User
from .selectors import token_with_user

TOKEN_PATTERN = re.compile(r"^[0-9a-f]{40}$")


class StrictTokenAuthentication(TokenAuthentication):
    """DRF's token auth, refusing malformed keys before they reach the database."""

    def authenticate_credentials(self, key):
        if not TOKEN_PATTERN.match(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = token_with_user(key)  # with the mitra's profile: most mitra calls read it
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token


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
    role = Role.STAFF
    message = HasRole.message

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.role == Role.STAFF))
