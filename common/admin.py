"""Admin pieces shared by the project's apps."""

from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.db import DataError, models
from django.http import HttpResponseRedirect

from .integers import parse_int


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

    def get_object(self, request, object_id, from_field=None):
        """An integer id in the URL is ASCII digits or no object (Django's own field reads
        `٣` as 3): the admin's "does not exist" notice, as for any other unknown id."""
        field = self.model._meta.get_field(from_field) if from_field else self.model._meta.pk
        if isinstance(field, models.IntegerField) and parse_int(str(object_id)) is None:
            return None
        return super().get_object(request, object_id, from_field)


class ReadOnlyAdmin(SafeChangeListAdmin):
    """Records written by the system (log rows, closures, pushes, config history):
    staff look, never edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
