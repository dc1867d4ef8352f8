from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .models import ChatRequest, Offer


class NotificationInline(admin.TabularInline):
    model = Offer
    extra = 0
    can_delete = False
    fields = ["mitra", "notified_at", "delivered_at", "delivered_via", "seen_at", "response", "responded_at",
              "response_time_seconds", "active_session_count"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChatRequest)
class ChatRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "mitra", "status", "expire_reason", "duration_minutes", "requested_at"]
    list_filter = ["status", "expire_reason"]
    search_fields = ["id", "customer__username", "mitra__username"]
    date_hierarchy = "requested_at"
    inlines = [NotificationInline]


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ["session", "mitra", "response", "notified_at", "delivered_via", "delivered_at", "seen_at",
                    "response_time_seconds", "active_session_count"]  # fmt: skip
    list_filter = ["response", "delivered_via"]
    search_fields = ["mitra__username", "session__id"]
    date_hierarchy = "notified_at"
    list_select_related = ["session", "mitra"]
