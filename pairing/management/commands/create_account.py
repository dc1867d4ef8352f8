"""`manage.py create_account USERNAME --role ROLE --password PW [--display-name NAME]`."""

from django.core.management.base import BaseCommand, CommandError

from pairing.accounts.models import Role
from pairing.accounts.services import create_or_update_account


class Command(BaseCommand):
    help = "Create or update a customer, mitra or staff account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", required=True)
        parser.add_argument("--display-name", default="")

    def handle(self, *args, username: str, role: str, password: str, display_name: str, **options):
        try:
            user, created = create_or_update_account(
                username=username, role=role, password=password, display_name=display_name
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} {role} account {user.username!r} (user_id {user.id}).")
