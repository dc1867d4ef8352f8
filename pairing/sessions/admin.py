from django.contrib import admin

from common.admin import ReadOnlyAdmin

from ..requests.admin import ChatRequestAdmin
from .models import SessionClosure


class SessionClosureInline(admin.StackedInline):
    """How the session closed (who, why, flagged), on the session's own page."""

    model = SessionClosure
    fields = ["initiated_by", "initiator", "reason_code", "reason_note", "needs_review", "created_at"]
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name_plural = "how the session closed"


ChatRequestAdmin.inlines = [SessionClosureInline, *ChatRequestAdmin.inlines]


@admin.register(SessionClosure)
class SessionClosureAdmin(ReadOnlyAdmin):
    list_display = ["session", "initiated_by", "initiator", "reason_code", "needs_review", "created_at"]
    list_filter = ["initiated_by", "reason_code", "needs_review"]
    date_hierarchy = "created_at"
