"""``lanewarden bench fees``: how many parking quotes one core prices per second."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from edge.cli import Groups

DEFAULT_TARIFF = (
    Path(__file__).resolve().parents[2] / "config" / "tariffs" / "riverside-parking.toml"
)


def register(groups: Groups) -> None:
    parser = groups.group("bench").add_parser(
        "fees",
        help="fee engine quotes per second (stays up to 24 h, time bands and caps)",
        description="Quote random parking stays of up to 24 h (entries spread over a year, "
        "day/night bands, tiers, daily caps, holidays) on one core and report quotes per "
        "second. Target: at least 20,000.",
    )
    parser.add_argument(
        "--tariff",
        type=Path,
        default=DEFAULT_TARIFF,
        metavar="FILE",
        help="parking tariff to quote with (default: the shipped riverside-parking example)",
    )
    parser.add_argument(
        "--quotes", type=int, default=50_000, metavar="N", help="quotes to time (default: 50000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the stays")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.config.loading import ConfigError
    from edge.fees.engine import quote
    from edge.fees.files import load_tariff
    from edge.fees.passage import Passage

    if args.quotes < 1:
        print(
            f"lanewarden bench fees: error: --quotes must be at least 1, got {args.quotes}",
            file=sys.stderr,
        )
        return 2
    try:
        tariff = load_tariff(args.tariff)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 1
    if tariff.source.versions[0].scheme != "parking":
        print(
            f"lanewarden bench fees: error: {args.tariff} is not a parking tariff", file=sys.stderr
        )
        return 2
    rng = random.Random(args.seed)
    last = tariff.source.versions[-1]
    classes = sorted(last.parking.classes) if last.parking else [1]
    first = datetime.fromtimestamp(tariff.versions[-1].start, tariff.clock.tz)
    passages = []
    for _ in range(args.quotes):
        entry = first + timedelta(seconds=rng.randrange(365 * 24 * 3600))
        stay = timedelta(seconds=rng.randrange(24 * 3600 + 1))
        passages.append(Passage(entry=entry, exit=entry + stay, vehicle_class=rng.choice(classes)))
    for passage in passages[:1000]:  # warm up: imports, caches of the first local dates
        quote(tariff, passage)
    started = time.perf_counter()
    total = 0
    for passage in passages:
        total += quote(tariff, passage).total
    seconds = time.perf_counter() - started
    figures = {
        "quotes_per_s": round(args.quotes / seconds, 1),
        "quotes": args.quotes,
        "seconds": round(seconds, 4),
        "us_per_quote": round(seconds / args.quotes * 1e6, 2),
    }
    print(f"fee engine: {tariff.id}, stays of 0-24 h over a year, classes {classes}")
    print(f"  {'quotes':<14}{figures['quotes']:>12}")
    print(f"  {'seconds':<14}{figures['seconds']:>12}")
    print(f"  {'us_per_quote':<14}{figures['us_per_quote']:>12}")
    print(f"  {'quotes_per_s':<14}{figures['quotes_per_s']:>12}  (target 20000)")
    print(f"  {'mean fee':<14}{total // args.quotes:>12}  minor units")
    if args.json:
        args.json.write_text(json.dumps(figures) + "\n")
    return 0
