"""Create the demo accounts `make run` prints, once.

Only the developer's start runs this (the launcher's `run` on the embedded default, or
with DEMO=1); the production start (`serve`) never does. An account that already exists
is left exactly as it is: its password, role and sessions are its owner's, so a restart
never signs anyone out or puts a published password back.
"""

from django.core.management.base import BaseCommand

from pairing.accounts.models import Role, User
from pairing.accounts.services import create_or_update_account

DEMO_PASSWORD = "halobestie-demo"
DEMO_ACCOUNTS = [
    ("staff", Role.STAFF, "Admin Halobestie"),
    ("customer1", Role.CUSTOMER, "Customer Satu"),
    ("customer2", Role.CUSTOMER, "Customer Dua"),
    ("mitra1", Role.MITRA, "Bestie Ayu"),
    ("mitra2", Role.MITRA, "Bestie Budi"),
    ("mitra3", Role.MITRA, "Bestie Citra"),
]


class Command(BaseCommand):
    help = "Create the demo accounts that do not exist yet and print how to sign in."

    def handle(self, *args, **options):
        existing = set(User.objects.filter(username__in=[name for name, _, _ in DEMO_ACCOUNTS]).values_list(
            "username", flat=True
        ))  # fmt: skip
        created = [
            create_or_update_account(username=username, role=role, password=DEMO_PASSWORD, display_name=name)[0]
            for username, role, name in DEMO_ACCOUNTS
            if username not in existing
        ]
        if created:
            self.stdout.write(f"Demo accounts created (password for all: {DEMO_PASSWORD}):")
            for user in created:
                self.stdout.write(f"  {user.role:<9} {user.username:<10} token {user.auth_token.key}")
        if existing:
            self.stdout.write(
                f"Demo accounts kept as they are (their passwords are not reset): {', '.join(sorted(existing))}."
            )
        self.stdout.write(
            "Staff: sign in at /control-center/ and /admin/. Apps: POST /api/auth/token/ "
            '{"username", "password"}, then send "Authorization: Token <token>".'
        )
