"""``lanewarden central broker-config --lanes FILE_OR_DIR... --out DIR``: the broker's files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plumbing.cli import Groups

EXIT_BAD_INPUT = 2


def register(groups: Groups) -> None:
    parser = groups.group("central").add_parser(
        "broker-config",
        help="write the mosquitto ACL, password file and credentials for a set of lanes",
        description="Write, for the lanes of the given lane files (a directory means its "
        "*.toml files), a Mosquitto 2 ACL (DIR/acl), a password file of PBKDF2 hashes "
        "(DIR/passwd), each user's plain password alone in DIR/credentials/<user> (mode "
        "0600: what a lane's password file or systemd credential points at) and a "
        "mosquitto.conf fragment (DIR/mosquitto.conf) with one listener that refuses "
        "anonymous clients. A lane's user name is its lane id; it may publish only its own "
        "state, txn, event, telemetry and cmd/result topics and read only its own ack and cmd "
        "topics and the configuration of its plaza and of the network. Central's users read "
        "every lane's reports and publish acks, commands and configuration. Existing "
        "passwords are kept; --rotate replaces them all. Exit status "
        f"{EXIT_BAD_INPUT} when a lane file or an existing file in DIR is wrong.",
    )
    parser.add_argument(
        "--lanes",
        nargs="+",
        type=Path,
        required=True,
        metavar="FILE_OR_DIR",
        help="lane files, or directories of lane files (e.g. config/lanes)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--central-user",
        action="append",
        dest="central_users",
        metavar="NAME",
        help="a broker user for central (repeat for several, e.g. ingest and console; "
        "default: central)",
    )
    parser.add_argument(
        "--rotate", action="store_true", help="give every user a new password, old ones included"
    )
    parser.add_argument(
        "--port", type=_port, default=1883, help="the listener's port (default: 1883)"
    )
    parser.add_argument("--bind", metavar="ADDRESS", help="the listener's address (default: all)")
    parser.add_argument(
        "--group",
        metavar="GROUP",
        help="give the password file (mode 0640) this group, the broker's (e.g. mosquitto): "
        "mosquitto started as root reads it as its own user",
    )
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return port


def run(args: argparse.Namespace) -> int:
    from central.broker_config.bundle import (
        DEFAULT_CENTRAL_USERS,
        BrokerConfigError,
        write_broker_config,
    )
    from central.broker_config.lanes import LaneFilesError, read_lanes

    try:
        lanes = read_lanes(args.lanes)
        written = write_broker_config(
            lanes,
            args.out,
            central_users=args.central_users or DEFAULT_CENTRAL_USERS,
            rotate=args.rotate,
            port=args.port,
            bind=args.bind,
            group=args.group,
        )
    except LaneFilesError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokerConfigError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    files = written.files
    print(f"wrote {files.acl}, {files.passwd} and {files.conf} for {len(lanes)} lanes")
    for label, users in (
        ("new password", written.created),
        ("new password (rotated)", written.rotated),
        ("password kept", written.kept),
    ):
        if users:
            print(f"{label}: {', '.join(users)}")
    if written.stale:
        print(
            f"not in this set, credentials left in {files.credentials}: {', '.join(written.stale)}"
        )
    return 0
