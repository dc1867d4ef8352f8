"""`manage.py appconfig` prints the config; `appconfig KEY=VALUE ...` sets keys."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.forms import modelform_factory

from appconfig.models import RuntimeConfig
from appconfig.services import save_config
from common.integers import ascii_integer_formfield


class Command(BaseCommand):
    help = "Print the app config, or set keys: appconfig KEY=VALUE [KEY=VALUE ...]"

    def add_arguments(self, parser):
        parser.add_argument("assignments", nargs="*", metavar="KEY=VALUE")

    def handle(self, *args, assignments: list[str], **options):
        if assignments:
            self._set(assignments)
        config = RuntimeConfig.load()
        for name in RuntimeConfig.editable_field_names():
            self.stdout.write(f"{name}={self._format(getattr(config, name))}")

    def _set(self, assignments: list[str]) -> None:
        names = RuntimeConfig.editable_field_names()
        changes: dict[str, str] = {}
        for item in assignments:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"expected KEY=VALUE, got {item!r}")
            if key not in names:
                raise CommandError(f"unknown key {key!r}; keys are: {', '.join(names)}")
            changes[key] = value
        with transaction.atomic():
            config = RuntimeConfig.objects.select_for_update().get(pk=RuntimeConfig.load().pk)
            # The admin's own form, so the command validates exactly as the admin does.
            form_class = modelform_factory(RuntimeConfig, fields=names, formfield_callback=ascii_integer_formfield)
            data = {name: self._format(getattr(config, name)) for name in names}
            data.update(changes)
            for name in names:
                if isinstance(getattr(config, name), bool):
                    data[name] = self._parse_bool(name, data[name])
            form = form_class(data=data, instance=config)
            if not form.is_valid():
                errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
                raise CommandError(f"invalid config: {errors}")
            save_config(form.save(commit=False), changed_by=None, source="command")

    @staticmethod
    def _parse_bool(name: str, value: str) -> str:
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "on"}:
            return "true"
        if lowered in {"false", "0", "no", "off"}:
            return "false"
        raise CommandError(f"invalid config: {name}: expected true or false, got {value!r}")

    @staticmethod
    def _format(value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
