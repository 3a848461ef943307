"""``lanewarden edge ctl --lane ID COMMAND``: operator commands to a running lane, over its socket.

The commands are :mod:`contracts.commands` objects, one JSON line each, over the
lane's local control socket (the lane file's ``[control] socket``, by default
``ctl-<lane id>.sock`` beside its store). The socket is mode 0660, group
``lanewarden``: members of that group may use ctl.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plumbing.cli import Groups

EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: no lane listens on the socket
LANES_DIR = Path("/etc/lanewarden/lanes")
MODES = ("normal", "closed", "free_passage", "maintenance")


def register(groups: Groups) -> None:
    parser = groups.group("edge").add_parser(
        "ctl",
        help="send an operator command to a running lane (status, open, close, mode, ...)",
        description="Send one operator command to a running lane daemon over its local control "
        "socket and print the lane's answer. Commands that change the lane need --operator and "
        "--reason; the lane records both before it acts (an open is recorded before the "
        "barrier moves). The socket is the lane file's [control] socket (default: "
        "ctl-<lane id>.sock beside the lane's store, relative paths from the current folder); "
        "it is mode 0660, group lanewarden, so members of that group may use ctl. Exit status: "
        f"0 done, {EXIT_REFUSED} refused by the lane (the reason is printed), "
        f"{EXIT_UNAVAILABLE} no lane answers on the socket.",
    )
    parser.add_argument("--lane", metavar="ID", help="the lane's id")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"the lane file (default: {LANES_DIR}/ID.toml); its [control] socket is used",
    )
    parser.add_argument("--socket", metavar="PATH", help="the control socket, overriding the file")
    parser.add_argument("--json", action="store_true", help="print the lane's answer as JSON")
    parser.add_argument(
        "--lifetime-s",
        type=float,
        default=60.0,
        help="the lane refuses the command when it arrives later than this (default: 60)",
    )
    commands = parser.add_subparsers(dest="ctl_command", metavar="COMMAND", required=True)
    status = commands.add_parser("status", help="the lane's mode, barrier, loops and vehicle")
    status.add_argument("--operator", default="ctl", help="who asks (default: ctl)")
    status.set_defaults(kind="status")
    helps = {
        "open": "open the barrier for the vehicle in front of it (or the next one)",
        "close": "withdraw every authorisation; the barrier closes once the safety loop is clear",
        "mode": "switch the lane's mode",
        "charge-plate": "charge the vehicle whose plate was not read, by the plate you read",
        "turn-away": "refuse the vehicle in front of the barrier (the display asks it to reverse)",
    }
    kinds = {
        "open": "open",
        "close": "close",
        "mode": "set_mode",
        "charge-plate": "charge_plate",
        "turn-away": "turn_away",
    }
    for name, text in helps.items():
        sub = commands.add_parser(name, help=text, description=text)
        if name == "mode":
            sub.add_argument("mode", choices=MODES)
        if name == "charge-plate":
            sub.add_argument("plate", help="the plate, e.g. 皖A12345")
        sub.add_argument("--operator", required=True, metavar="ID", help="your operator id")
        sub.add_argument("--reason", required=True, help="why (recorded with your operator id)")
        sub.set_defaults(kind=kinds[name])
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json
    from datetime import UTC, datetime, timedelta

    from contracts.commands import CommandError, new_command
    from edge.daemon.control import send

    try:
        path = socket_of(args)
    except ValueError as exc:
        print(f"lanewarden edge ctl: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    fields: dict[str, str] = {}
    if args.kind == "set_mode":
        fields["mode"] = args.mode
    if args.kind == "charge_plate":
        fields["plate"] = args.plate
    try:
        command = new_command(
            args.kind,
            operator_id=args.operator,
            reason=getattr(args, "reason", ""),
            now=datetime.now(UTC),
            lifetime=timedelta(seconds=args.lifetime_s),
            **fields,
        )
    except CommandError as exc:
        print(f"lanewarden edge ctl: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        (result,) = asyncio.run(send(path, [command]))
    except (OSError, TimeoutError) as exc:
        print(f"lanewarden edge ctl: no lane answers on {path}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print("done" if result.ok else f"refused: {result.error}")
        for key, value in result.lane.items():
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            print(f"  {key}: {shown}")
    return 0 if result.ok else EXIT_REFUSED


def socket_of(args: argparse.Namespace) -> Path:
    """The socket to talk to: --socket, or the one the lane file names (ValueError if neither)."""
    from edge.config.lane import LaneConfig
    from plumbing.config import ConfigError, load

    if args.socket:
        return Path(args.socket)
    if not args.config and not args.lane:
        raise ValueError("give --lane ID (or --config FILE, or --socket PATH)")
    config = Path(args.config) if args.config else LANES_DIR / f"{args.lane}.toml"
    try:
        lane = load(config, LaneConfig)
    except (ConfigError, OSError) as exc:
        raise ValueError(f"cannot read the lane file {config}: {exc}") from exc
    if args.lane and lane.id != args.lane:
        raise ValueError(f"{config} is lane {lane.id!r}, not {args.lane!r}")
    return lane.control_socket()
