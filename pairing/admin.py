"""The admin of every pairing domain, for Django's admin autodiscovery."""

from .accounts import admin as accounts_admin
from .push import admin as push_admin
from .requests import admin as requests_admin
from .sessions import admin as sessions_admin

__all__ = ["accounts_admin", "push_admin", "requests_admin", "sessions_admin"]
