"""``lanewarden sim display``: the LED message display on a pty or a serial port."""

from __future__ import annotations

import argparse
import sys

from plumbing.cli import Groups
from simulators.faults import add_fault_arguments, faults_from_args


def _rows(text: str) -> int:
    rows = int(text)
    if rows < 1:
        raise argparse.ArgumentTypeError(f"a display has at least one row, got {rows}")
    return rows


def register(groups: Groups) -> None:
    parser = groups.group("sim").add_parser(
        "display",
        help="an LED message display that shows what the lane sends",
        description="Simulate the LED display on a new pseudo-terminal (its device path ends "
        "the first line of output: point the lane's display.port at it) or on --port. It "
        "speaks the line protocol of drivers/serial_display.py, draws the rows it is sent, "
        "and answers ERR with a reason (also logged) to malformed lines. The second line is "
        "the control URL: GET /state, POST /faults {...}. Runs until SIGINT or SIGTERM.",
    )
    parser.add_argument(
        "--port", default=None, metavar="DEVICE", help="serial device to use instead of a new pty"
    )
    parser.add_argument("--baudrate", type=int, default=9600, help="speed of --port (8N1)")
    parser.add_argument("--rows", type=_rows, default=4, help="rows of text the display has")
    parser.add_argument(
        "--columns", type=int, default=16, help="width drawn, in half-width characters"
    )
    parser.add_argument(
        "--control-port", type=int, default=0, help="control port (default: any free port)"
    )
    add_fault_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.display import DisplaySimulator
    from simulators.serial_link import LinkLostError, open_link, serve_until_signal

    try:
        faults = faults_from_args(args)
        link = open_link(args.port, args.baudrate)
    except (ValueError, LinkLostError) as exc:
        print(f"lanewarden sim display: {exc}", file=sys.stderr)
        return 2
    simulator = DisplaySimulator(link, args.rows, faults, columns=args.columns)
    return serve_until_signal(simulator, "LED display", args.control_port)
