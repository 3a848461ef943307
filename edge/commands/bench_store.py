"""``lanewarden bench store``: durable transactions per second against bare SQLite commits.

Both loops run on the same disk with the same settings (WAL, ``synchronous=FULL``),
one commit per record, interleaved record by record (a bare commit, then a store
append, each timed on its own) so that other load on the machine falls on both alike. The store's figure covers what the daemon pays per record:
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

from contracts.records.transaction import FeeItem, Transaction
from contracts.uuid7 import uuid7
from edge.store.db import DURABLE_PRAGMAS
from plumbing.cli import Groups

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
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Figures:
    records: int
    store_s: list[float]
    """Seconds of each store append."""
    bare_s: list[float]
    """Seconds of each bare one-row commit."""

    @property
    def txn_per_s(self) -> float:
        return self.records / sum(self.store_s)

    @property
    def sqlite_commit_per_s(self) -> float:
        return self.records / sum(self.bare_s)

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
            "txn_p50_ms": _ms(self.store_s, 0.5),
            "txn_p99_ms": _ms(self.store_s, 0.99),
            "sqlite_commit_p50_ms": _ms(self.bare_s, 0.5),
            "sqlite_commit_p99_ms": _ms(self.bare_s, 0.99),
        }


def _ms(seconds: list[float], quantile: float) -> float:
    ordered = sorted(seconds)
    return round(1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))], 3)


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


def measure(db_path: Path, scratch: Path, count: int) -> Figures:
    """Interleave ``count`` store appends and bare commits; ``scratch`` holds the bare file."""
    from edge.store import Store

    drafts = list(sample_transactions(count, datetime.now(UTC)))
    payload = json.dumps(drafts[0].model_dump(mode="json"))
    bare = sqlite3.connect(scratch / "bare.db", isolation_level=None)
    store = Store.open(db_path)
    store_s: list[float] = []
    bare_s: list[float] = []
    try:
        for pragma in DURABLE_PRAGMAS:
            bare.execute(pragma)
        bare.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        clock = time.perf_counter
        for txn in drafts:
            began = clock()
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO t (body) VALUES (?)", (payload,))
            bare.execute("COMMIT")
            middle = clock()
            store.append_transaction(txn)
            bare_s.append(middle - began)
            store_s.append(clock() - middle)
    finally:
        store.close()
        bare.close()
    return Figures(records=count, store_s=store_s, bare_s=bare_s)


def render(figures: Figures, db: str) -> str:
    values = figures.as_dict()
    rows = [
        ("txn_per_s", f"{figures.txn_per_s:,.1f}"),
        ("sqlite_commit_per_s", f"{figures.sqlite_commit_per_s:,.1f}"),
        ("ratio", f"{figures.ratio:.3f}  (target >= {TARGET_RATIO})"),
        ("txn_p50_ms / p99", f"{values['txn_p50_ms']} / {values['txn_p99_ms']}"),
        (
            "sqlite_commit_p50_ms / p99",
            f"{values['sqlite_commit_p50_ms']} / {values['sqlite_commit_p99_ms']}",
        ),
    ]
    head = f"bench store: {figures.records} records, WAL, synchronous=FULL, db {db}"
    return "\n".join([head, f"{'figure':<28}value"] + [f"{k:<28}{v}" for k, v in rows])


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise SystemExit("error: --count must be at least 1")
    db_path: Path = args.db if args.db is not None else Path()
    parent = db_path.resolve().parent if args.db is not None else None
    workdir = Path(tempfile.mkdtemp(prefix="lanewarden-bench-", dir=parent))
    try:
        target = args.db if args.db is not None else workdir / "store.db"
        figures = measure(target, workdir, args.count)
    finally:
        shutil.rmtree(workdir)
    print(render(figures, str(args.db) if args.db is not None else "(temporary, removed)"))
    if args.json is not None:
        args.json.write_text(json.dumps(figures.as_dict()) + "\n")
    return 0
