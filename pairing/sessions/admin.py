from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .models import SessionClosure


@admin.register(SessionClosure)
class SessionClosureAdmin(ReadOnlyAdmin):
    list_display = ["session", "initiated_by", "initiator", "reason_code", "needs_review", "created_at"]
    list_filter = ["initiated_by", "reason_code", "needs_review"]
    date_hierarchy = "created_at"
