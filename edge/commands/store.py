"""``lanewarden store verify DB``: check every lane's sequence and hash chain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.cli import Groups


def register(groups: Groups) -> None:
    parser = groups.group("store").add_parser(
        "verify",
        help="check the sequence and hash chain of every lane in a store",
        description="Check every lane's transactions and events in a store file: no gap in "
        "lane_seq, each record's hash matches its content, each prev_hash is its "
        "predecessor's hash, each column is as the store writes it. Prints OK and exits 0, "
        "or prints the first broken record (lane, lane_seq, what broke) of each lane and "
        "exits 1. Exits 2 when the file is missing, damaged or not a lanewarden store. "
        "Opens the file read-only.",
    )
    parser.add_argument("db", type=Path, metavar="DB", help="the store's SQLite file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.store import SchemaError, StoreError
    from edge.store.verify import verify

    try:
        report = verify(args.db)
    except (StoreError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{n} {stream}" for stream, n in report.checked.items())
    if report.ok:
        lanes = len(report.lanes)
        print(f"OK: {args.db}: {lanes} lane{'' if lanes == 1 else 's'}, {counts} records verified")
        return 0
    for broken in report.breaks:
        print(f"BROKEN: {args.db}: {broken}")
    print(f"{len(report.breaks)} broken chains in {args.db} ({counts} records checked)")
    return 1
