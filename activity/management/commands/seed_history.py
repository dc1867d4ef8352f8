"""`python manage.py seed_history --days 30`: believable past traffic for the control center."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from activity.history import seed_history


class Command(BaseCommand):
    help = "Fill the days before today with believable requests, offers and force-closes (skips days already filled)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30, help="how many days before today (1 to 366)")
        parser.add_argument("--seed", type=int, default=None, help="the random seed, for the same history every time")

    def handle(self, *args, days: int, seed: int | None, **options) -> None:
        if not 1 <= days <= 366:
            self.stderr.write("--days must be between 1 and 366")
            raise SystemExit(2)
        made = seed_history(days, seed)
        self.stdout.write(
            f"History: {made['days']} new days, {made['requests']} requests, {made['offers']} offers, "
            f"{made['force_closes']} force-closes (days already filled were left alone)."
        )
