from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from halobestie.admin import ReadOnlyAdmin

from .models import (
    ChatRequestNotification,
    ChatSession,
    Device,
    MitraProfile,
    PushAttempt,
    SessionClosure,
    User,
)


class MitraProfileInline(admin.StackedInline):
    model = MitraProfile
    can_delete = False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    fieldsets = [
        (None, {"fields": ["username", "password", "role", "display_name"]}),
        *DjangoUserAdmin.fieldsets[2:],
    ]
    inlines = [MitraProfileInline]


class NotificationInline(admin.TabularInline):
    model = ChatRequestNotification
    extra = 0
    can_delete = False
    fields = ["mitra", "notified_at", "response", "responded_at", "response_time_seconds", "active_session_count"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChatSession)
class ChatSessionAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "mitra", "status", "expire_reason", "duration_minutes", "requested_at"]
    list_filter = ["status", "expire_reason"]
    search_fields = ["id", "customer__username", "mitra__username"]
    date_hierarchy = "requested_at"
    inlines = [NotificationInline]


@admin.register(ChatRequestNotification)
class ChatRequestNotificationAdmin(ReadOnlyAdmin):
    list_display = ["session", "mitra", "response", "notified_at", "response_time_seconds", "active_session_count"]
    list_filter = ["response"]
    search_fields = ["mitra__username", "session__id"]
    date_hierarchy = "notified_at"
    list_select_related = ["session", "mitra"]


@admin.register(SessionClosure)
class SessionClosureAdmin(ReadOnlyAdmin):
    list_display = ["session", "initiated_by", "initiator", "reason_code", "needs_review", "created_at"]
    list_filter = ["initiated_by", "reason_code", "needs_review"]
    date_hierarchy = "created_at"


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "platform", "is_active", "deactivated_reason", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["user__username", "token"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(PushAttempt)
class PushAttemptAdmin(ReadOnlyAdmin):
    """Every FCM attempt: what was sent to which device, and what FCM answered."""

    list_display = ["created_at", "kind", "status", "user", "session", "attempt", "short_error"]
    list_filter = ["status", "kind"]
    search_fields = ["user__username", "session__id", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "session"]

    @admin.display(description="error")
    def short_error(self, obj: PushAttempt) -> str:
        return obj.error[:80]
