"""``lanewarden diag``: technician checks of a lane's devices, each PASS or FAIL with a reason."""

from __future__ import annotations

import argparse
from pathlib import Path

from plumbing.cli import Groups


def register(groups: Groups) -> None:
    parser = groups.top.add_parser(
        "diag",
        help="check a lane's loops, barrier, camera and display",
        description="Read the loops live, pulse the barrier and watch its limit switches, grab "
        "a camera frame, show a message on the display. Each check prints PASS, FAIL or SKIP "
        "with the reason; the exit code is 1 when a check fails.",
    )
    parser.add_argument("--config", required=True, type=Path, help="the lane's TOML file")
    parser.add_argument(
        "--check",
        default="all",
        help="comma-separated checks: loops, barrier, camera, display, or all (default)",
    )
    parser.add_argument("--save-frame", type=Path, help="write the camera frame to this file")
    parser.add_argument("--message", default="LANEWARDEN TEST", help="text shown on the display")
    parser.add_argument(
        "--watch", type=float, default=5.0, metavar="SECONDS", help="how long to read the loops"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers.diag import Diagnosis, Verdict, parse_checks
    from edge.config.lane import load_lane
    from plumbing.config import ConfigError

    try:
        checks = parse_checks(args.check)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    if args.watch <= 0:
        print(f"error: --watch: must be positive, got {args.watch}")
        return 2
    try:
        lane = load_lane(args.config).lane
    except ConfigError as exc:
        print("\n".join(exc.problems))
        return 2
    print(f"lane {lane.id} ({lane.name}): {', '.join(checks)}", flush=True)
    import sys

    diagnosis = Diagnosis(
        lane.device_sections(),
        sys.stdout,
        watch_s=args.watch,
        save_frame=args.save_frame,
        message=args.message,
    )
    results = diagnosis.run(checks)
    return 1 if any(r.verdict is Verdict.FAIL for r in results) else 0
