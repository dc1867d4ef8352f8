"""Admin pieces shared by the project's apps."""

from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.db import DataError
from django.http import HttpResponseRedirect


class SafeChangeListAdmin(admin.ModelAdmin):
    """A change list whose URL filters a field by a value the database cannot hold (an id
    of 30 digits) shows the admin's own "bad filter" notice instead of a 500."""

    def changelist_view(self, request, extra_context=None):
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()  # run the list's queries here, inside the guard
            return response
        except (OverflowError, DataError, ValueError):
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")


class ReadOnlyAdmin(SafeChangeListAdmin):
    """Records written by the system (log rows, closures, pushes, config history):
    staff look, never edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
