"""`manage.py migrate`, the release step, one host at a time.

Django's migrate takes no lock: two hosts that migrate the same PostgreSQL database at
once both try to create the same tables and record the same migrations, and one fails
half-way. This command first takes a PostgreSQL advisory lock, on a session of its own
that ends (and so releases the lock) when the command ends, however it ends; the second
host waits, then finds nothing left to apply. SQLite serves one host: no lock.
"""

from __future__ import annotations

import zlib

import psycopg
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

# The lock's key: any bigint all hosts agree on, and that nothing else here uses.
MIGRATE_LOCK_KEY = zlib.crc32(b"halobestie.migrate")
DEFAULT_LOCK_WAIT_SECONDS = 900
_DJANGO_ONLY_PARAMS = ("cursor_factory", "context", "prepare_threshold")


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " On PostgreSQL, one host at a time (an advisory lock)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--lock-wait",
            type=int,
            default=DEFAULT_LOCK_WAIT_SECONDS,
            help="seconds to wait for another host's migrate to finish (PostgreSQL), then fail",
        )

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        read_only = options["check_unapplied"] or options["plan"]
        if connection.vendor != "postgresql" or read_only:
            return super().handle(*args, **options)
        with self._migrate_lock(connection, options["lock_wait"], options["verbosity"]):
            return super().handle(*args, **options)

    def _migrate_lock(self, connection, wait_seconds: int, verbosity: int) -> _Released:
        params = {k: v for k, v in connection.get_connection_params().items() if k not in _DJANGO_ONLY_PARAMS}
        session = psycopg.connect(**params, autocommit=True, application_name="halobestie migrate lock")
        try:
            taken = session.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_KEY]).fetchone()[0]
            if not taken:
                if verbosity:
                    self.stdout.write("Another host is migrating this database; waiting for it to finish.")
                session.execute(f"SET lock_timeout = '{int(wait_seconds)}s'")
                try:
                    session.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
                except psycopg.errors.LockNotAvailable as exc:
                    raise CommandError(
                        f"Another host's migrate still held the lock after {wait_seconds} s; nothing was applied."
                    ) from exc
            if verbosity:
                self.stdout.write("Took the migrate lock.")
        except BaseException:
            session.close()
            raise
        return _Released(session, self.stdout if verbosity else None)


class _Released:
    """The lock's session as a context manager: leaving it ends the session, which
    releases the lock (so does the process dying: PostgreSQL ends its sessions)."""

    def __init__(self, session: psycopg.Connection, stdout) -> None:
        self.session, self.stdout = session, stdout

    def __enter__(self) -> psycopg.Connection:
        return self.session

    def __exit__(self, *exc) -> None:
        self.session.close()
        if self.stdout is not None:
            self.stdout.write("Released the migrate lock.")
