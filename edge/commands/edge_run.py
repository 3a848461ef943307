"""``lanewarden edge run --config FILE``: the lane daemon in the foreground (systemd runs this)."""

from __future__ import annotations

import argparse
import sys

from plumbing.cli import Groups

EXIT_FAILED = 1
EXIT_STORE = 65  # EX_DATAERR: the store is damaged or lost records; not restarted either
EXIT_CONFIG = 78  # EX_CONFIG: the unit's RestartPreventExitStatus, restarting will not help


def register(groups: Groups) -> None:
    parser = groups.group("edge").add_parser(
        "run",
        help="run one lane: devices, plate reader, payments, store",
        description="Run the lane daemon of one lane file until SIGTERM or SIGINT. Under systemd "
        "(Type=notify) it reports READY once its devices are up and pings the watchdog. Exit "
        f"status: 0 stopped cleanly, {EXIT_FAILED} the lane failed (a device, a port), "
        f"{EXIT_STORE} the store is damaged, lost records or is not a lanewarden store (checked "
        f"read-only before the start writes to it; its files are left as they were), "
        f"{EXIT_CONFIG} the configuration is invalid.",
    )
    parser.add_argument(
        "--config", required=True, metavar="FILE", help="the lane file (config/lanes/LANE.toml)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from edge.config.lane import load_lane
    from edge.daemon.lane_daemon import LaneDaemon, StartupError, StoreUnusableError
    from edge.daemon.runner import run_lane
    from plumbing.config import ConfigError

    try:
        files = load_lane(args.config)
    except ConfigError as exc:
        print(f"lanewarden edge run: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        clean = asyncio.run(run_lane(LaneDaemon(files)))
    except StartupError as exc:
        print(f"lanewarden edge run: lane {files.lane.id} cannot start: {exc}", file=sys.stderr)
        return EXIT_STORE if isinstance(exc, StoreUnusableError) else EXIT_FAILED
    return 0 if clean else EXIT_FAILED
