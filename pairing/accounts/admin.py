from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from common.admin import SafeChangeListAdmin

from .models import Device, MitraProfile, User


class MitraProfileInline(admin.StackedInline):
    model = MitraProfile
    can_delete = False


@admin.register(User)
class UserAdmin(SafeChangeListAdmin, DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    fieldsets = [
        (None, {"fields": ["username", "password", "role", "display_name"]}),
        *DjangoUserAdmin.fieldsets[2:],
    ]
    inlines = [MitraProfileInline]


@admin.register(Device)
class DeviceAdmin(SafeChangeListAdmin):
    list_display = ["user", "platform", "is_active", "deactivated_reason", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["user__username", "token"]
    readonly_fields = ["created_at", "updated_at"]
