"""``lanewarden demo``: a parking entry and exit lane with their simulators and traffic."""

from __future__ import annotations

import argparse
from pathlib import Path

from plumbing.cli import Groups


def register(groups: Groups) -> None:
    parser = groups.top.add_parser(
        "demo",
        help="a parking site (entry and exit lane) syncing to central, with simulators and traffic",
        description="Start a parking entry lane and a parking exit lane sharing one store, each "
        "a lane daemon process, with their simulated devices, a payment gateway simulator and "
        "traffic, and an MQTT broker with central (SQLite in the work folder) that the lanes "
        "sync to; print what happens to every vehicle. In the middle of the traffic the broker "
        "stops for 20 s (a third of a run shorter than 60 s, none under 9 s) and the lanes' "
        "backlog is shown growing and draining. Stops after --duration seconds of traffic, or "
        "on Ctrl-C (SIGINT) or SIGTERM, waits (at most 30 s) for the backlog to drain, then "
        "prints a summary with central's count and sum beside the lanes'. Log lines go to "
        "files in the work folder (named at the start and the end), not to the terminal. Exit "
        "status 0 when everything stopped cleanly, the store's chains verify, the backlog "
        "drained and central agrees with the lanes.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="seconds of traffic once the lanes are ready (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--vehicles-per-min", type=float, default=6.0, metavar="N", help="arrival rate (default 6)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the traffic (default 1)")
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="lane files, logs and the store go here (default: a new temporary folder; it stays, "
        "for the logs)",
    )
    parser.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "embedded"),
        default="auto",
        help="the MQTT broker the lanes sync to central through: mosquitto (MQTT 5, two central "
        "workers), the embedded amqtt broker (MQTT 3.1.1, one worker), or auto: mosquitto when "
        "installed (default)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the log lines of the simulators and lane daemons on stderr too",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from fleet.site import DemoOptions, run_demo
    from simulators.running import stop_on_signal

    if args.duration is not None and args.duration <= 0:
        print(
            f"lanewarden demo: --duration must be positive, got {args.duration:g}", file=sys.stderr
        )
        return 2
    if args.vehicles_per_min <= 0:
        print(
            f"lanewarden demo: --vehicles-per-min must be positive, got {args.vehicles_per_min:g}",
            file=sys.stderr,
        )
        return 2
    options = DemoOptions(
        args.duration,
        args.vehicles_per_min,
        args.seed,
        args.workdir,
        verbose=args.verbose,
        log_level=args.log_level,
        log_format=args.log_format,
        broker=args.broker,
    )
    with stop_on_signal() as stop:
        return run_demo(options, sys.stdout, stop)
