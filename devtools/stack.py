"""The whole system (daphne, Celery worker and beat) in child processes, for the
end-to-end tests and the benchmarks: `with Stack() as stack: ...`.

It runs `python -m devtools.launcher run` (what `make run` runs) against a
database of its own (a fresh PostgreSQL database when DATABASE_URL names a
PostgreSQL server, a temporary SQLite file otherwise) and its own Redis key
prefixes and Celery queue, so it never touches the caller's data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from .launcher import BASE_DIR, free_port

DEMO_PASSWORD = "halobestie-demo"


def _fresh_postgres_url(url: str, name: str) -> str:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def _drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:
            continue
        ppid = int(rest.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(pid))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(pid: int) -> dict[int, str]:
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found[child] = _cmdline(child)
            todo.append(child)
    return {pid: cmd for pid, cmd in found.items() if cmd}


class Stack:
    def __init__(self, extra_env: dict[str, str] | None = None, startup_timeout: float = 90) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.extra_env = extra_env or {}
        self._tmp = tempfile.TemporaryDirectory(prefix="halobestie-stack-")
        self.log_path = Path(self._tmp.name) / "stack.log"
        self.ready_file = Path(self._tmp.name) / "ready"
        self.database_url = ""
        self.process: subprocess.Popen | None = None

    # -- environment --------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "PORT": str(self.port),
                "CHANNEL_PREFIX": f"stack{self.tag}",
                "CACHE_KEY_PREFIX": f"stack{self.tag}",
                "CELERY_QUEUE": f"stack-{self.tag}",
                "SWEEP_INTERVAL_SECONDS": "0.5",
                "PYTHONUNBUFFERED": "1",
                "READY_FILE": str(self.ready_file),
                **self.extra_env,
            }
        )
        return env

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            env=self.env(), cwd=BASE_DIR, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self) -> Stack:
        given = os.environ.get("DATABASE_URL", "")
        if given.startswith(("postgres://", "postgresql://")):
            self.database_url = _fresh_postgres_url(given, f"halobestie_stack_{self.tag}")
        else:
            self.database_url = f"sqlite:///{Path(self._tmp.name) / 'stack.sqlite3'}"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.launcher", "run"],
            env=self.env(), cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            self._wait_until_up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited early:\n{self.log()}")
            if self.ready_file.exists():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the stack did not come up:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.database_url.startswith("postgres"):
            _drop_postgres(self.database_url)
        self._tmp.cleanup()

    # -- processes ------------------------------------------------------------

    def processes(self) -> dict[int, str]:
        """Every process the launcher started, directly or not: pid → command line."""
        return descendants(self.process.pid)

    def pids(self, needle: str) -> list[int]:
        """The launcher's own children whose command line contains `needle`."""
        return [pid for pid in _children().get(self.process.pid, []) if needle in _cmdline(pid)]

    # -- clients -------------------------------------------------------------

    def login(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = httpx.post(f"{self.url}/api/auth/token/", json={"username": username, "password": password})
        response.raise_for_status()
        return response.json()["token"]

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Token {token}"}, timeout=30)
