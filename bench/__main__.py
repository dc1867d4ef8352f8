"""`make bench` (python -m bench [fanout|dashboard] [options]): prints figures and ratios."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobestie.settings")


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...")
    parser.add_argument("which", nargs="*", default=["fanout", "dashboard"], choices=["fanout", "dashboard"])
    parser.add_argument("--mitras", default="200,1000", help="fan-out sizes, comma-separated")
    parser.add_argument("--requests", type=int, default=20, help="requests per fan-out size")
    parser.add_argument("--rows", type=int, default=1_000_000, help="dashboard log rows")
    args = parser.parse_args()
    if "fanout" in args.which:
        from bench import fanout

        fanout.main([int(n) for n in args.mitras.split(",")], args.requests)
    if "dashboard" in args.which:
        from bench import dashboard

        dashboard.main(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
