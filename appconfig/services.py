"""Changing the app config: one place for the admin and the `appconfig` command."""

from __future__ import annotations

from django.db import transaction

from .models import ConfigChange, RuntimeConfig


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def save_config(config: RuntimeConfig, changed_by=None, source: str = "admin") -> list[ConfigChange]:
    """Save the config and record every key whose value changed."""
    with transaction.atomic():
        before = RuntimeConfig.objects.select_for_update().filter(pk=RuntimeConfig.SINGLETON_ID).first()
        config.save()
        changes = [
            ConfigChange(
                field=name,
                old_value=_text(getattr(before, name)) if before else "",
                new_value=_text(getattr(config, name)),
                changed_by=changed_by,
                source=source,
            )
            for name in RuntimeConfig.editable_field_names()
            if before is None or getattr(before, name) != getattr(config, name)
        ]
        return ConfigChange.objects.bulk_create(changes)
