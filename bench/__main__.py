"""`make bench` (python -m bench [fanout|resume|http|dashboard|capacity|soak|profile] [options]): prints figures
and ratios."""

from __future__ import annotations

import argparse
import os
import signal
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")


def sizes(given: str | None, default: str) -> list[int]:
    return [int(n) for n in (given or default).split(",")]


def smallest_forms(args: argparse.Namespace) -> None:
    """What CI runs: every benchmark end to end, as a newcomer's `make bench` would, small
    enough to take seconds (a benchmark nobody can run is a broken one)."""
    from bench import capacity, profile, resume, soak, web

    args.mitras = args.mitras or "20"
    args.requests, args.rows = 3, 3000
    args.rates, args.step_seconds = "1,2", 2.0
    args.rate, args.minutes = 1.0, 2.0
    capacity.RECOVERY_SECONDS = 4.0
    soak.MINUTE = 5.0
    resume.EVENTS, resume.ROUNDS = 40, 1
    web.SECONDS, web.STORM, web.STORM_ROUNDS, web.CHURN_PAIRS = 1, 5, 1, 2
    profile.SECONDS = 2


def _stop(signum: int, frame: object) -> None:
    """A benchmark stopped from outside (SIGTERM) unwinds like one interrupted at the
    keyboard, so its stack's processes stop with it instead of living on."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(prog="make bench ARGS=...")
    # No `choices`: argparse checks an empty list against them and refuses it.
    parser.add_argument(
        "which", nargs="*",
        help="fanout, resume, http, dashboard, capacity, soak, profile (default: fanout, resume, http, dashboard)",
    )  # fmt: skip
    parser.add_argument(
        "--mitras", default=None, help="sizes, comma-separated (fanout: 200,1000,5000; capacity: 1000,5000; soak: 1000)"
    )
    parser.add_argument("--rates", default=None, help="capacity: the ladder of requests/s (default 1,2,3,5,7,10,...)")
    parser.add_argument("--step-seconds", type=float, default=None, help="capacity: seconds a step (default 10)")
    parser.add_argument("--no-overload", action="store_true", help="capacity: skip the burst past capacity")
    parser.add_argument("--rate", type=float, default=None, help="soak: requests/s (default 2.5)")
    parser.add_argument("--minutes", type=float, default=None, help="soak: minutes (default 10)")
    parser.add_argument(
        "--smoke", action="store_true",
        help="each benchmark in its smallest form (a few sockets, rows and seconds): that it runs, not its figures",
    )  # fmt: skip
    parser.add_argument(
        "--requests", type=int, default=None, help="requests per fan-out size (default: 60, and 20 from 5,000 mitras)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="dashboard log rows")
    args = parser.parse_args()
    which = args.which or ["fanout", "resume", "http", "dashboard"]
    if args.smoke:
        smallest_forms(args)
    unknown = set(which) - {"fanout", "resume", "http", "dashboard", "capacity", "soak", "profile"}
    if unknown:
        names = "fanout, resume, http, dashboard, capacity, soak or profile"
        parser.error(f"unknown benchmark: {', '.join(sorted(unknown))} (use {names})")
    if "fanout" in which:
        from bench import fanout

        fanout.main(sizes(args.mitras, "200,1000,5000"), args.requests)
    if "resume" in which:
        from bench import resume

        resume.main()
    if "http" in which:
        from bench import web

        web.main()
    if "dashboard" in which:
        from bench import dashboard

        dashboard.main(args.rows)
    if "capacity" in which:
        from bench import capacity

        if args.step_seconds:
            capacity.STEP_SECONDS = args.step_seconds
        rates = [float(r) for r in args.rates.split(",")] if args.rates else None
        capacity.main(sizes(args.mitras, "1000,5000"), rates, overload=not args.no_overload)
    if "soak" in which:
        from bench import soak

        soak.main(sizes(args.mitras, "1000")[0], rate=args.rate, minutes=args.minutes)
    if "profile" in which:
        from bench import profile

        profile.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
