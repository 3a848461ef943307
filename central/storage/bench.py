"""How fast batches go into a store: ``python -m central.storage.bench --url URL``.

Each worker process opens its own store and stores ``--batches`` batches of
``--size`` sealed transaction records, one lane per batch index modulo
``--lanes``, the records built (and sealed) before the clock starts. It prints
one JSON object: records, seconds, records per second, per worker and overall.
``lanewarden bench sync`` measures the whole path through the broker; this
measures the store alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from central.storage.store import CentralStore
from contracts.mqtt.payloads import TxnBatch
from contracts.testing import transaction_chain

PLAZA = "bench"


def _batches(worker: int, lanes: int, batches: int, size: int) -> list[TxnBatch]:
    per_lane = -(-batches // lanes)
    out: list[TxnBatch] = []
    now = datetime.now(UTC)
    for lane in range(lanes):
        lane_id = f"w{worker}-lane-{lane}"
        records = list(transaction_chain(lane_id, per_lane * size))
        for index in range(per_lane):
            chunk = tuple(records[index * size : (index + 1) * size])
            out.append(TxnBatch(plaza_id=PLAZA, lane_id=lane_id, sent_at=now, records=chunk))
    return out[:batches]


def run_worker(url: str, worker: int, lanes: int, batches: int, size: int) -> dict[str, Any]:
    work = _batches(worker, lanes, batches, size)
    store = CentralStore.open(url)
    try:
        started = time.perf_counter()
        stored = sum(store.store_batch(PLAZA, b, datetime.now(UTC)).stored for b in work)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    return {"worker": worker, "records": stored, "seconds": round(seconds, 3)}


def _run(args: tuple[str, int, int, int, int]) -> dict[str, Any]:
    return run_worker(*args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m central.storage.bench", description=__doc__)
    parser.add_argument("--url", required=True, help="sqlite:///path or postgresql+psycopg://...")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--lanes", type=int, default=4, help="lanes per worker")
    parser.add_argument("--batches", type=int, default=20, help="batches per worker")
    parser.add_argument("--size", type=int, default=1000, help="records per batch (<= 1000)")
    args = parser.parse_args(argv)
    CentralStore.open(args.url).close()  # migrate once, before the workers race to
    jobs = [(args.url, w, args.lanes, args.batches, args.size) for w in range(args.workers)]
    started = time.perf_counter()
    if args.workers == 1:
        results = [_run(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(_run, jobs)
    wall = time.perf_counter() - started
    records = sum(r["records"] for r in results)
    slowest = max(r["seconds"] for r in results)
    summary = {
        "url": args.url.split("@")[-1],
        "workers": results,
        "records": records,
        "records_per_s": round(records / slowest) if slowest else None,
        "wall_s_with_setup": round(wall, 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
