"""``lanewarden bench lane``: a lane daemon against the simulators, real plate photos in view."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plumbing.cli import Groups

DEFAULT_VEHICLES = 30


def register(groups: Groups) -> None:
    parser = groups.group("bench").add_parser(
        "lane",
        help="loop-to-open latency, read rate, lane capacity and memory of a simulated lane",
        description="Drive vehicles showing real plate photos through the riverside-exit lane "
        "(the lane daemon as its own process against the simulators), paid from prepaid "
        "accounts. Prints open_ms_p50/p95/p99 (arming loop to barrier open command, plate "
        "recognition included), read_rate, vehicles_per_min (60 s over the mean lane cycle), "
        "rss_mb (the daemon's peak resident memory) and stranded (vehicles neither let "
        "through nor turned away), with how each was measured. "
        "Targets: open_ms_p95 < 300, vehicles_per_min >= 20, rss_mb < 400, stranded 0. "
        "--load N runs N CPU-burning processes beside the lane (a busy lane computer). "
        "The lane runs with its systemd unit's CPUWeight= where this process may give it "
        "(root), else at the default weight; lane_priority in the output says which.",
    )
    parser.add_argument(
        "--vehicles",
        type=int,
        default=DEFAULT_VEHICLES,
        metavar="N",
        help=f"vehicles measured, after one warm-up vehicle (default {DEFAULT_VEHICLES})",
    )
    parser.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="plate photos with a labels.csv (file,plate); default: tests/data/plates",
    )
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        metavar="N",
        help="CPU-burning processes run beside the lane during the run (default 0)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fleet.bench import BenchError, run_bench, table
    from fleet.lane_process import LaneStartError
    from simulators.running import stop_on_signal

    with stop_on_signal() as stop:
        try:
            figures = run_bench(args.vehicles, args.images, sys.stdout, stop, args.load)
        except (BenchError, LaneStartError) as exc:
            print(f"lanewarden bench lane: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, BenchError) else 1
    if figures is None:
        print("lanewarden bench lane: interrupted", file=sys.stderr)
        return 130
    print(table(figures), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(figures.as_json(), indent=2) + "\n", encoding="utf-8")
    return 0
