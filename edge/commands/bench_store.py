"""``lanewarden bench store``: durable transactions per second against bare SQLite commits.

Both loops run on the same disk with the same settings (WAL, ``synchronous=FULL``),
one commit per record, in alternating rounds so that other load on the machine
falls on both alike. The store's figure covers what the daemon pays per record:
reading the lane's head, sealing (canonical JSON, SHA-256), inserting, moving the
head, and the durable commit. Building the record (the lane's decision) is done
before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.cli import Groups
from edge.records import FeeItem, Transaction, uuid7
from edge.store.db import DURABLE_PRAGMAS

TARGET_RATIO = 0.4
BENCH_LANE = "bench-exit"


def register(groups: Groups) -> None:
    parser = groups.group("bench").add_parser(
        "store",
        help="durable transactions per second through the store vs bare SQLite commits",
        description="Append transaction records through the real store (sequence and hash "
        "chain included, synchronous=FULL) and, in the same run on the same disk, commit "
        "one-row transactions with bare sqlite3 and the same settings. Prints txn_per_s, "
        f"sqlite_commit_per_s and their ratio (target >= {TARGET_RATIO}).",
    )
    parser.add_argument(
        "--db",
        type=Path,
        help="store file to write and keep (default: a temporary directory, removed after); "
        "an existing store is appended to",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--count", type=int, default=3000, help="records per loop (default: 3000)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds the count is split into"
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Figures:
    records: int
    txn_per_s: float
    sqlite_commit_per_s: float

    @property
    def ratio(self) -> float:
        return self.txn_per_s / self.sqlite_commit_per_s

    def as_dict(self) -> dict[str, float | int]:
        return {
            "records": self.records,
            "txn_per_s": round(self.txn_per_s, 1),
            "sqlite_commit_per_s": round(self.sqlite_commit_per_s, 1),
            "ratio": round(self.ratio, 3),
            "target_ratio": TARGET_RATIO,
        }


def sample_transactions(count: int, start: datetime) -> Iterator[Transaction]:
    """Exit records as a parking exit lane writes them, each a different vehicle."""
    for n in range(count):
        exit_time = start + timedelta(seconds=7 * n)
        entry_time = exit_time - timedelta(minutes=35 + n % 300)
        first, rest = 500, 200 * (n % 5)
        yield Transaction(
            id=uuid7(exit_time),
            lane_id=BENCH_LANE,
            kind="exit",
            status="passed",
            authorisation="paid",
            recorded_at=exit_time,
            plate_text=f"B{n % 100000:05d}X",
            plate_confidence=0.9 + (n % 10) / 100,
            vehicle_class=1 + n % 4,
            entry_time=entry_time,
            exit_time=exit_time,
            tariff_id="parking_city",
            tariff_version=3,
            currency="EUR",
            fee_items=(
                FeeItem(label="first hour", amount=first),
                FeeItem(label="per 30 min", amount=rest),
            ),
            fee_total=first + rest,
            listing="none",
            payment_method="terminal",
            payment_status="approved",
            gateway_ref=f"gw-{n:08d}",
            evidence_image_ids=(f"img-{n:08d}-a", f"img-{n:08d}-b"),
        )


def measure(db_path: Path, scratch: Path, count: int, rounds: int) -> Figures:
    """Run both loops in ``rounds`` alternating chunks; ``scratch`` holds the bare database."""
    from edge.store import Store

    drafts = list(sample_transactions(count, datetime.now(UTC)))
    payload = json.dumps(drafts[0].model_dump(mode="json"))
    bare = sqlite3.connect(scratch / "bare.db", isolation_level=None)
    store = Store.open(db_path)
    try:
        for pragma in DURABLE_PRAGMAS:
            bare.execute(pragma)
        bare.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        store_s = bare_s = 0.0
        chunk = -(-count // rounds)
        for start in range(0, count, chunk):
            batch = drafts[start : start + chunk]
            began = time.perf_counter()
            for _ in batch:
                bare.execute("BEGIN IMMEDIATE")
                bare.execute("INSERT INTO t (body) VALUES (?)", (payload,))
                bare.execute("COMMIT")
            bare_s += time.perf_counter() - began
            began = time.perf_counter()
            for txn in batch:
                store.append_transaction(txn)
            store_s += time.perf_counter() - began
    finally:
        store.close()
        bare.close()
    return Figures(records=count, txn_per_s=count / store_s, sqlite_commit_per_s=count / bare_s)


def render(figures: Figures, db: str) -> str:
    rows = [
        ("txn_per_s", f"{figures.txn_per_s:,.1f}"),
        ("sqlite_commit_per_s", f"{figures.sqlite_commit_per_s:,.1f}"),
        ("ratio", f"{figures.ratio:.3f}  (target >= {TARGET_RATIO})"),
    ]
    head = f"bench store: {figures.records} records, WAL, synchronous=FULL, db {db}"
    return "\n".join([head, f"{'figure':<22}value"] + [f"{k:<22}{v}" for k, v in rows])


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or args.rounds < 1 or args.rounds > args.count:
        raise SystemExit("error: --count and --rounds must be >= 1, rounds <= count")
    db_path: Path = args.db if args.db is not None else Path()
    parent = db_path.resolve().parent if args.db is not None else None
    workdir = Path(tempfile.mkdtemp(prefix="lanewarden-bench-", dir=parent))
    try:
        target = args.db if args.db is not None else workdir / "store.db"
        figures = measure(target, workdir, args.count, args.rounds)
    finally:
        shutil.rmtree(workdir)
    print(render(figures, str(args.db) if args.db is not None else "(temporary, removed)"))
    if args.json is not None:
        args.json.write_text(json.dumps(figures.as_dict()) + "\n")
    return 0
