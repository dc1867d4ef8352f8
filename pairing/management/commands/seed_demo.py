"""Create the demo accounts `make run` prints, idempotently."""

from django.core.management.base import BaseCommand

from pairing.accounts.models import Role
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
    help = "Create or refresh the demo accounts and print how to sign in."

    def handle(self, *args, **options):
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for username, role, display_name in DEMO_ACCOUNTS:
            user, _ = create_or_update_account(
                username=username, role=role, password=DEMO_PASSWORD, display_name=display_name
            )
            self.stdout.write(f"  {role:<9} {username:<10} token {user.auth_token.key}")
        self.stdout.write(
            "Staff: sign in at /control-center/ and /admin/. Apps: POST /api/auth/token/ "
            '{"username", "password"}, then send "Authorization: Token <token>".'
        )
