"""The whole system (daphne, Celery worker and beat) in child processes, for the
end-to-end tests and the benchmarks: `with Stack() as stack: ...`.

It runs against a database of its own (a fresh PostgreSQL database when DATABASE_URL
names a PostgreSQL server, a temporary SQLite file otherwise) and its own Redis key
prefixes and Celery queue, so it never touches the caller's data. Two ways to start:

- `Stack()`: `python -m devtools.launcher run` with DEMO=1, what `make run` runs: it
  migrates and creates the demo accounts.
- `Stack(production=True, hosts=N)`: what a deployment runs. The release step
  (`manage.py migrate`) once, the same accounts made with `manage.py create_account`
  (as an operator would), then `python -m devtools.launcher serve` N times, each a
  "host" on its own port, all on the one database and Redis. `stack.url` is the first
  host; `stack.hosts[i]` each one.
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
# The accounts every end-to-end test signs in as: seed_demo's, made by `create_account`
# on the production path so the same tests run against both starts.
ACCOUNTS = [
    ("staff", "staff", "Admin Halobestie"),
    ("customer1", "customer", "Customer Satu"),
    ("customer2", "customer", "Customer Dua"),
    ("mitra1", "mitra", "Bestie Ayu"),
    ("mitra2", "mitra", "Bestie Budi"),
    ("mitra3", "mitra", "Bestie Citra"),
]


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


class Host:
    """One launcher: its port, its log and its process."""

    def __init__(self, index: int, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = directory / f"host-{index}.log"
        self.ready_file = directory / f"host-{index}.ready"
        self.process: subprocess.Popen | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Stack:
    def __init__(
        self,
        extra_env: dict[str, str] | None = None,
        startup_timeout: float = 90,
        *,
        production: bool = False,
        hosts: int = 1,
    ) -> None:
        if hosts > 1 and not production:
            raise ValueError("several hosts run the production start: Stack(production=True, hosts=N)")
        self.tag = uuid.uuid4().hex[:8]
        self.production = production
        self.startup_timeout = startup_timeout
        self.extra_env = extra_env or {}
        self._tmp = tempfile.TemporaryDirectory(prefix="halobestie-stack-")
        self.hosts = [Host(index, Path(self._tmp.name)) for index in range(hosts)]
        self.port, self.url, self.ws_url = self.hosts[0].port, self.hosts[0].url, self.hosts[0].ws_url
        self.log_path, self.ready_file = self.hosts[0].log_path, self.hosts[0].ready_file
        self.database_url = ""
        self.process: subprocess.Popen | None = None  # the first host's launcher

    # -- environment --------------------------------------------------------

    def env(self, host: Host | None = None) -> dict[str, str]:
        host = host or self.hosts[0]
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "PORT": str(host.port),
                "CHANNEL_PREFIX": f"stack{self.tag}",
                "CACHE_KEY_PREFIX": f"stack{self.tag}",
                "CELERY_QUEUE": f"stack-{self.tag}",
                "SWEEP_INTERVAL_SECONDS": "0.5",
                "PYTHONUNBUFFERED": "1",
                "READY_FILE": str(host.ready_file),
                **({} if self.production else {"DEMO": "1"}),
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
        try:
            if self.production:
                self.release()
                self.create_accounts()
            for host in self.hosts:
                host.process = subprocess.Popen(
                    [sys.executable, "-m", "devtools.launcher", "serve" if self.production else "run"],
                    env=self.env(host), cwd=BASE_DIR, stdout=host.log_path.open("w"), stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            self.process = self.hosts[0].process
            self._wait_until_up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def release(self) -> str:
        """The release step a deployment runs before it starts (or restarts) its hosts."""
        return self.manage("migrate", "--noinput")

    def create_accounts(self) -> None:
        """The test accounts, as an operator makes accounts: one `create_account` each."""
        commands = [
            [sys.executable, str(BASE_DIR / "manage.py"), "create_account", username, "--role", role,
             "--password", DEMO_PASSWORD, "--display-name", display_name]
            for username, role, display_name in ACCOUNTS
        ]  # fmt: skip
        running = [subprocess.Popen(c, env=self.env(), cwd=BASE_DIR, stdout=subprocess.DEVNULL) for c in commands]
        if any(process.wait() != 0 for process in running):
            raise RuntimeError("create_account failed")

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            for host in self.hosts:
                if host.process.poll() is not None:
                    raise RuntimeError(f"the stack exited early:\n{host.log()}")
            if all(host.ready_file.exists() for host in self.hosts):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the stack did not come up:\n{self.log()}")

    def log(self) -> str:
        """The first host's output (every host's: `stack.hosts[i].log()`)."""
        return self.hosts[0].log()

    def __exit__(self, *exc) -> None:
        running = [host.process for host in self.hosts if host.process is not None and host.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
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

    def login(self, username: str, password: str = DEMO_PASSWORD, host: int = 0) -> str:
        url = self.hosts[host].url
        response = httpx.post(f"{url}/api/auth/token/", json={"username": username, "password": password})
        response.raise_for_status()
        return response.json()["token"]

    def client(self, token: str, host: int = 0) -> httpx.Client:
        url = self.hosts[host].url
        return httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=30)
