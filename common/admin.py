"""Admin pieces shared by the project's apps."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the system (log rows, closures, pushes, config history):
    staff look, never edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
