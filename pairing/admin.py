"""The admin of every pairing domain, for Django's admin autodiscovery, and the user
admin's mitra view, which needs several domains at once: availability, presence, active
sessions, devices with their push health, and the sign-in lock with its unlock."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt
from axes.utils import reset as reset_sign_in_failures
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone

from .accounts import admin as accounts_admin
from .accounts.models import Device, Role, User
from .lifecycle import ACTIVE_SESSION_STATUSES
from .push import admin as push_admin
from .push.models import PushStatus
from .realtime.presence import online_mitra_ids
from .requests import admin as requests_admin
from .requests.models import ChatRequest
from .sessions import admin as sessions_admin

__all__ = ["accounts_admin", "push_admin", "requests_admin", "sessions_admin"]

PUSH_HEALTH_DAYS = 7


class DeviceHealthInline(admin.TabularInline):
    """Each device and whether pushes reach it: the last attempt, and failures this week."""

    model = Device
    fields = ["platform", "token_end", "is_active", "deactivated_reason", "last_push", "recent_failures", "updated_at"]
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name_plural = "devices and push health"

    @admin.display(description="token")
    def token_end(self, device: Device) -> str:
        return f"…{device.token[-8:]}"

    @admin.display(description="last push")
    def last_push(self, device: Device) -> str:
        attempt = device.pushes.order_by("-created_at").first()
        if attempt is None:
            return "none yet"
        when = timezone.localtime(attempt.created_at).strftime("%Y-%m-%d %H:%M")
        error = f": {attempt.error[:80]}" if attempt.error else ""
        return f"{attempt.status} at {when}{error}"

    @admin.display(description=f"failures, last {PUSH_HEALTH_DAYS} days")
    def recent_failures(self, device: Device) -> str:
        since = timezone.now() - timedelta(days=PUSH_HEALTH_DAYS)
        counts = device.pushes.filter(created_at__gte=since).aggregate(
            sent=Count("id"), failed=Count("id", filter=~Q(status=PushStatus.SENT))
        )
        return f"{counts['failed']} of {counts['sent']}"


@admin.action(description="Unlock sign-in (clear failed attempts)")
def unlock_sign_in(modeladmin, request, queryset) -> None:
    cleared = sum(reset_sign_in_failures(username=user.username) for user in queryset)
    modeladmin.message_user(request, f"Cleared {cleared} failed sign-in records.", messages.SUCCESS)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(accounts_admin.UserAdmin):
    list_display = [*accounts_admin.UserAdmin.list_display, "available"]
    list_filter = [*accounts_admin.UserAdmin.list_filter, "mitra_profile__is_available"]
    list_select_related = ["mitra_profile"]
    actions = [unlock_sign_in]
    mitra_fields = ["online_now", "active_sessions", "sign_in_lock"]

    def get_inlines(self, request, obj):
        inlines = list(super().get_inlines(request, obj))
        return [*inlines, DeviceHealthInline] if obj is not None else inlines

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and obj.role == Role.MITRA:
            fieldsets.insert(1, ("Mitra now", {"fields": self.mitra_fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.mitra_fields]

    @admin.display(description="available", boolean=True)
    def available(self, user: User) -> bool | None:
        profile = getattr(user, "mitra_profile", None) if user.role == Role.MITRA else None
        return None if profile is None else profile.is_available

    @admin.display(description="online now")
    def online_now(self, user: User) -> str:
        try:
            return "yes: the app has a socket open" if online_mitra_ids([user.id]) else "no"
        except Exception:
            return "unknown (Redis is not answering)"

    @admin.display(description="active sessions")
    def active_sessions(self, user: User) -> int:
        return ChatRequest.objects.filter(mitra=user, status__in=ACTIVE_SESSION_STATUSES).count()

    @admin.display(description="sign-in lock")
    def sign_in_lock(self, user: User) -> str:
        attempts = AccessAttempt.objects.filter(username=user.username)
        failures = max((a.failures_since_start for a in attempts), default=0)
        if failures >= settings.AXES_FAILURE_LIMIT:
            return (f"locked after {failures} failed sign-ins; use the action \u201cUnlock sign-in\u201d on the "
                    "user list to lift it")  # fmt: skip
        return f"not locked ({failures} recent failures)" if failures else "not locked"
