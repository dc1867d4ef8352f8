from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .models import PushAttempt


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
