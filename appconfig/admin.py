from django.contrib import admin

from .models import RuntimeConfig


@admin.register(RuntimeConfig)
class RuntimeConfigAdmin(admin.ModelAdmin):
    fieldsets = [
        ("Pairing", {"fields": ["request_timeout_seconds"]}),
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
    ]
    readonly_fields = ["updated_at"]
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
