"""``lanewarden sim barrier``: the RS-485 barrier controller on a pty or a serial port."""

from __future__ import annotations

import argparse
import re
import sys

from plumbing.cli import Groups
from simulators.faults import add_fault_arguments, faults_from_args


def _address(text: str) -> str:
    if not re.fullmatch(r"[0-9A-F]{2}", text):
        raise argparse.ArgumentTypeError(f"address must be two upper-case hex characters: {text!r}")
    return text


def register(groups: Groups) -> None:
    parser = groups.group("sim").add_parser(
        "barrier",
        help="a serial barrier controller speaking ARCHITECTURE.md's frames",
        description="Simulate the RS-485 barrier controller on a new pseudo-terminal (its "
        "device path ends the first line of output: point the lane's barrier.port at it) or on "
        "--port. The arm takes --travel-s to rise or fall. The second line is the control URL: "
        'GET /state, POST /event {"code": "P|B|X|K"}, POST /arm {"broken": bool}, '
        "POST /faults {delay_ms, drop_rate, garble_rate, silent, seed, drop_next}. "
        "Runs until SIGINT or SIGTERM.",
    )
    parser.add_argument(
        "--port", default=None, metavar="DEVICE", help="serial device to use instead of a new pty"
    )
    parser.add_argument("--baudrate", type=int, default=9600, help="speed of --port (8N1)")
    parser.add_argument(
        "--address", type=_address, default="01", help="controller address (default 01)"
    )
    parser.add_argument(
        "--travel-s", type=float, default=1.5, help="time for the arm to rise or fall (s)"
    )
    parser.add_argument(
        "--control-port", type=int, default=0, help="control port (default: any free port)"
    )
    add_fault_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.serial_barrier import BarrierController, BarrierSimulator
    from simulators.serial_link import LinkLostError, open_link, serve_until_signal

    try:
        controller = BarrierController(args.address, args.travel_s)
        faults = faults_from_args(args)
        link = open_link(args.port, args.baudrate)
    except (ValueError, LinkLostError) as exc:
        print(f"lanewarden sim barrier: {exc}", file=sys.stderr)
        return 2
    simulator = BarrierSimulator(link, controller, faults)
    return serve_until_signal(simulator, "barrier controller", args.control_port)
