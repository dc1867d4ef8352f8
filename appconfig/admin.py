from django.contrib import admin
from django.db import models

from common.admin import ReadOnlyAdmin
from common.integers import AsciiIntegerField

from .models import ConfigChange, RuntimeConfig
from .services import save_config


@admin.register(RuntimeConfig)
class RuntimeConfigAdmin(admin.ModelAdmin):
    fieldsets = [
        ("Pairing", {"fields": ["request_timeout_seconds", "push_fallback_seconds"]}),
        (
            "Sessions and early end",
            {
                "fields": [
                    "closing_grace_seconds",
                    "early_end_mitra_enabled",
                    "early_end_mitra_daily_cap",
                    "early_end_customer_enabled",
                ]
            },
        ),
        (
            "Live page alerts",
            {
                "fields": [
                    "alert_undelivered_wait_seconds",
                    "alert_expired_per_15_minutes",
                    "alert_undelivered_in_a_row",
                ]
            },
        ),
    ]
    readonly_fields = ["updated_at"]
    formfield_overrides = {models.PositiveIntegerField: {"form_class": AsciiIntegerField}}  # ASCII digits only
    list_display = [
        "__str__",
        "request_timeout_seconds",
        "closing_grace_seconds",
        "early_end_mitra_enabled",
        "early_end_customer_enabled",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return not RuntimeConfig.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        save_config(obj, changed_by=request.user, source="admin")

    def changelist_view(self, request, extra_context=None):
        # There is one config: go straight to it.
        from django.shortcuts import redirect

        config = RuntimeConfig.load()
        return redirect("admin:appconfig_runtimeconfig_change", config.pk)


@admin.register(ConfigChange)
class ConfigChangeAdmin(ReadOnlyAdmin):
    """Who changed which key of the app config, from what to what, and when."""

    list_display = ["changed_at", "field", "old_value", "new_value", "changed_by", "source"]
    list_filter = ["field", "source"]
    date_hierarchy = "changed_at"
