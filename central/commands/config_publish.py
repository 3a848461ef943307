"""``lanewarden central config publish``: a configuration bundle for lanes, retained on the broker."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from plumbing.cli import Groups

if TYPE_CHECKING:
    from plumbing.broker import BrokerConfig

EXIT_BAD_INPUT = 2
EXIT_CONFIG = 78
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the broker is not there or refused


def register(groups: Groups) -> None:
    config = groups.group("central").add_parser(
        "config",
        help="configuration for lanes: tariffs, network, lists and accounts",
        description="Configuration central sends to lanes.",
    )
    commands = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    parser = commands.add_parser(
        "publish",
        help="publish a configuration bundle, retained, on a plaza's (or the network's) topic",
        description="Build a configuration bundle from tariff and network files (validated as "
        "a lane loads them) and CSV lists, and publish it retained with QoS 1 on "
        "lanewarden/v1/<plaza>/config (or lanewarden/v1/config with --network-wide). Each lane "
        "applies it whole or refuses it (an older or repeated version, a tariff that does not "
        "compile or lacks the lane's own, another currency or time zone, a tariff version "
        "changed or back-dated, bad lists) and reports the outcome as a config_applied or "
        "config_refused lane event and in its state's config_version. Versions increase per "
        "topic; a list or accounts (null when not given: the lane keeps its own) are best sent "
        "from one topic. Lists: CSV with a header plate,valid_from,valid_until,note; accounts: "
        "account_id,currency,balance,plates (plates separated by spaces). Exit status "
        f"{EXIT_BAD_INPUT}: a file is wrong; {EXIT_CONFIG}: central's file is wrong; "
        f"{EXIT_UNAVAILABLE}: the broker cannot be reached or refused the bundle.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, metavar="FILE", help="central's file, for [broker]")
    where.add_argument(
        "--broker", metavar="HOST[:PORT]", help="a broker without login or TLS (port 1883)"
    )
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--plaza", metavar="ID", help="the plaza whose lanes it is for")
    scope.add_argument(
        "--network-wide", action="store_true", help="on the network's topic, for every lane"
    )
    parser.add_argument(
        "--version", type=_version, required=True, metavar="N", help="bundle version (>= 1)"
    )
    parser.add_argument(
        "--tariff", type=Path, action="append", default=[], metavar="FILE", help="a tariff file"
    )
    parser.add_argument("--network", type=Path, metavar="FILE", help="the highway network file")
    parser.add_argument(
        "--lane",
        action="append",
        default=[],
        metavar="ID",
        help="a lane it is for (repeat; default: every lane that reads the topic)",
    )
    for name in ("permits", "whitelist", "blacklist", "accounts"):
        parser.add_argument(f"--{name}", type=Path, metavar="CSV", help=f"the {name}, whole")
    parser.add_argument(
        "--dry-run", action="store_true", help="build and check the bundle, publish nothing"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="for the broker (default 10)"
    )
    parser.set_defaults(func=run)


def _version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a bundle version (a whole number >= 1)")
    return value


def run(args: argparse.Namespace) -> int:
    from central.config_publish import (
        BundleFiles,
        BundleInputError,
        PublishError,
        build_bundle,
        config_topic,
        describe,
        publish_bundle,
    )
    from plumbing.broker import BrokerSetupError

    files = BundleFiles(
        tariffs=args.tariff,
        network=args.network,
        lanes=args.lane,
        permits=args.permits,
        whitelist=args.whitelist,
        blacklist=args.blacklist,
        accounts=args.accounts,
    )
    plaza = None if args.network_wide else args.plaza
    try:
        bundle = build_bundle(
            files, plaza_id=plaza, version=args.version, issued_at=datetime.now(UTC)
        )
    except BundleInputError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    topic = config_topic(plaza)
    if args.dry_run:
        print(f"checked, not published: {topic}: {describe(bundle)}")
        return 0
    broker = _broker(args)
    if isinstance(broker, int):
        return broker
    try:
        publish_bundle(broker, bundle, timeout_s=args.timeout)
    except (PublishError, BrokerSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"published (retained) {topic}: {describe(bundle)}")
    return 0


def _broker(args: argparse.Namespace) -> BrokerConfig | int:
    """The broker of ``--config`` or ``--broker``; an exit status when it cannot be used."""
    from central.config import load_central
    from plumbing.broker import BrokerConfig
    from plumbing.config import ConfigError

    if args.config is not None:
        try:
            return load_central(args.config).broker
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    host, _, port = (
        str(args.broker).rpartition(":") if ":" in args.broker else (args.broker, "", "")
    )
    try:
        return BrokerConfig(host=host, port=int(port) if port else 1883)
    except ValueError as exc:
        print(f"error: --broker {args.broker!r}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
