"""``lanewarden bench fees``: how many parking quotes one core prices per second."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from plumbing.cli import Groups

DEFAULT_TARIFF = (
    Path(__file__).resolve().parents[2] / "config" / "tariffs" / "riverside-parking.toml"
)


#: Quotes of the longest stay timed (each walks every charging day of it).
LONG_STAY_QUOTES = 20


def register(groups: Groups) -> None:
    parser = groups.group("bench").add_parser(
        "fees",
        help="fee engine quotes per second (stays up to 24 h, time bands and caps)",
        description="Quote random parking stays of up to 24 h (entries spread over a year, "
        "day/night bands, tiers, daily caps, holidays) on one core and report quotes per "
        "second of CPU time (quotes_per_s; target at least 20,000) and of wall-clock time "
        "(quotes_per_s_wall, lower when other processes share the core); then the CPU time and "
        "receipt size of one quote of the longest stay the tariff prices (max_stay_ms, "
        "max_stay_items, max_stay_json_bytes).",
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
    from edge.fees.engine import quote
    from edge.fees.files import load_tariff
    from edge.fees.passage import FeeQuery
    from plumbing.config import ConfigError

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
        passages.append(FeeQuery(entry=entry, exit=entry + stay, vehicle_class=rng.choice(classes)))
    for passage in passages[:1000]:  # warm up: imports, caches of the first local dates
        quote(tariff, passage)
    # CPU time is what one core spends; wall time also counts waiting for a
    # core on a shared machine. Both are reported; the target is on CPU time.
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    total = 0
    for passage in passages:
        total += quote(tariff, passage).total
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    # The longest stay the tariff prices: its receipt folds days priced alike.
    assert last.parking is not None  # a parking tariff, checked above
    longest = FeeQuery(entry=first, exit=first + timedelta(days=last.parking.max_stay_days))
    long_start = time.process_time()
    for _ in range(LONG_STAY_QUOTES):
        long_fee = quote(tariff, longest)
    long_cpu = (time.process_time() - long_start) / LONG_STAY_QUOTES
    figures = {
        "quotes_per_s": round(args.quotes / cpu, 1),
        "quotes_per_s_wall": round(args.quotes / wall, 1),
        "quotes": args.quotes,
        "cpu_s": round(cpu, 4),
        "wall_s": round(wall, 4),
        "us_per_quote": round(cpu / args.quotes * 1e6, 2),
        "max_stay_days": last.parking.max_stay_days,
        "max_stay_ms": round(long_cpu * 1e3, 2),
        "max_stay_items": len(long_fee.items),
        "max_stay_json_bytes": len(json.dumps(long_fee.to_json(), ensure_ascii=False).encode()),
    }
    print(f"fee engine: {tariff.id}, stays of 0-24 h over a year, classes {classes}")
    rows = [
        ("quotes", figures["quotes"], ""),
        ("cpu_s", figures["cpu_s"], ""),
        ("wall_s", figures["wall_s"], ""),
        ("us_per_quote", figures["us_per_quote"], "CPU"),
        ("quotes_per_s", figures["quotes_per_s"], "CPU time, one core (target 20000)"),
        ("quotes_per_s_wall", figures["quotes_per_s_wall"], "wall clock"),
        ("mean fee", total // args.quotes, "minor units"),
        (
            "max_stay_ms",
            figures["max_stay_ms"],
            f"CPU, one stay of {figures['max_stay_days']} days",
        ),
        ("max_stay_items", figures["max_stay_items"], "receipt lines of that stay"),
        ("max_stay_json_bytes", figures["max_stay_json_bytes"], "its fees quote --json"),
    ]
    for name, value, note in rows:
        print(f"  {name:<18}{value:>12}  {note}".rstrip())
    if args.json:
        args.json.write_text(json.dumps(figures) + "\n")
    return 0
