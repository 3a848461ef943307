"""``lanewarden bench crash``: a paying exit lane SIGKILLed at random moments under traffic."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plumbing.cli import Groups

DEFAULT_KILLS = 20


def register(groups: Groups) -> None:
    parser = groups.group("bench").add_parser(
        "crash",
        help="kill a paying exit lane with SIGKILL under traffic; check store and gateway ledger",
        description="Drive vehicles through the riverside-exit lane (the lane daemon as its own "
        "process against the simulators, paying by QR through the gateway simulator with "
        "duplicate callbacks) and SIGKILL the daemon at random moments, during start-up and "
        "twice in quick succession among them, restarting it each time. Then check the store "
        "(integrity_check, hash chains, lane_seq) and the gateway's ledger against it. Prints "
        "kills, vehicles, paid_orders, lost, phantom, doubled, stranded_entries, chain_ok. "
        "Targets: lost, phantom, doubled and stranded_entries 0, chain_ok true. About 3.5 s "
        "a kill on a 2-core machine.",
    )
    parser.add_argument(
        "--kills",
        type=int,
        default=DEFAULT_KILLS,
        metavar="K",
        help=f"how many times the daemon is killed (default {DEFAULT_KILLS})",
    )
    parser.add_argument("--seed", type=int, metavar="N", help="seed of the random moments")
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep the store, lane files and the lane's log here (default: a temporary folder)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fleet.bench import BenchError
    from fleet.crash import TARGETS, run_crash_bench, table
    from simulators.running import stop_on_signal

    with stop_on_signal() as stop:
        try:
            figures = run_crash_bench(
                args.kills, sys.stdout, stop, seed=args.seed, workdir=args.workdir
            )
        except BenchError as exc:
            print(f"lanewarden bench crash: {exc}", file=sys.stderr)
            return 2
    if figures is None:
        print("lanewarden bench crash: interrupted", file=sys.stderr)
        return 130
    print(table(figures), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(figures.as_json(), indent=2) + "\n", encoding="utf-8")
    met = all(getattr(figures, name) == value for name, value in TARGETS.items())
    return 0 if met and figures.chain_ok and figures.integrity_ok else 1
