"""`make bench` (python -m bench [fanout|resume|http|dashboard|profile] [options]): prints figures and ratios."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...")
    # No `choices`: argparse checks an empty list against them and refuses it.
    parser.add_argument("which", nargs="*", help="fanout, resume, http, dashboard, profile (default: all but profile)")
    parser.add_argument("--mitras", default="200,1000,5000", help="fan-out sizes, comma-separated")
    parser.add_argument(
        "--requests", type=int, default=None, help="requests per fan-out size (default: 60, and 20 from 5,000 mitras)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="dashboard log rows")
    args = parser.parse_args()
    which = args.which or ["fanout", "resume", "http", "dashboard"]
    unknown = set(which) - {"fanout", "resume", "http", "dashboard", "profile"}
    if unknown:
        parser.error(
            f"unknown benchmark: {', '.join(sorted(unknown))} (use fanout, resume, http, dashboard or profile)"
        )
    if "fanout" in which:
        from bench import fanout

        fanout.main([int(n) for n in args.mitras.split(",")], args.requests)
    if "resume" in which:
        from bench import resume

        resume.main()
    if "http" in which:
        from bench import web

        web.main()
    if "dashboard" in which:
        from bench import dashboard

        dashboard.main(args.rows)
    if "profile" in which:
        from bench import profile

        profile.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
