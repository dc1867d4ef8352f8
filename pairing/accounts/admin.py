"""The admin of accounts and devices.

Staff (the "Control center staff" group) run the business: they manage mitras and
customers (availability, display name, active or not, password, devices, sign-in locks).
What makes an account powerful is a superuser's alone: `is_superuser`, `is_staff`,
groups, permissions, the staff role, and every staff or superuser account (its password
included), which staff only see. The limits hold on the server: a field staff may not
change is read-only in the form, so a forged POST value is never read.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from common.admin import SafeChangeListAdmin

from .models import Device, MitraProfile, Role, User

PRIVILEGE_FIELDS = ["is_superuser", "is_staff", "groups", "user_permissions"]


def is_privileged(user: User) -> bool:
    """An account only a superuser may change: a superuser, or staff of either kind."""
    return user.is_superuser or user.is_staff or user.role == Role.STAFF


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

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [name for name in PRIVILEGE_FIELDS if name not in readonly]
        return readonly

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not request.user.is_superuser:
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value != Role.STAFF]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and is_privileged(obj) and not request.user.is_superuser:
            return False  # also closes its password form (user_change_password asks this)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and is_privileged(obj) and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("delete_selected", None)  # it checks no account, so a superuser could go with it
        return actions


@admin.register(Device)
class DeviceAdmin(SafeChangeListAdmin):
    list_display = ["user", "platform", "is_active", "deactivated_reason", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["user__username", "token"]
    readonly_fields = ["created_at", "updated_at"]
