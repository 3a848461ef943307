"""How fast a lane's backlog drains to a central that acks at once (not a test; a figure).

    PYTHONPATH=.:tests python tests/bench_sync_drain.py --records 30000 [--host H --port P]

Fills a fresh store with ``--records`` transaction records (one commit), starts
the outbox against the broker (the machine's mosquitto by default) and the fake
central of the sync tests (which parses and verifies every batch and acks the
highest contiguous ``lane_seq`` after each), and reports the time from the
outbox's start until the store holds central's ack of the last record.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sync_support import LANE, START, acked, central, facts, sync_config, until

from contracts.testing import paid_exit
from edge.store import Store
from edge.sync import SyncService


def fill_fast(path: Path, count: int) -> None:
    with Store.open(path) as store, store.batch():
        for index in range(count):
            at = START + timedelta(seconds=3 * index)
            store.append_transaction(paid_exit(LANE, at, fee=100 + index % 7 * 50))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--window", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "site.db"
        fill_fast(store, args.records)
        config = sync_config(
            args.host, args.port, batch_size=args.batch_size, window=args.window, poll_s=0.2
        )
        with central(args.host, args.port) as fake:
            sync = SyncService(config, facts(), store)
            started = time.perf_counter()
            sync.start()
            try:
                until(lambda: sync.acked("txn") == args.records, "the drain", 600.0)
                took = time.perf_counter() - started
            finally:
                sync.stop()
            assert sorted(fake.got.records["txn"]) == list(range(1, args.records + 1))
            assert acked(store)[0] == args.records  # durably, in the store
        print(
            json.dumps(
                {
                    "records": args.records,
                    "batch_size": args.batch_size,
                    "window": args.window,
                    "drain_s": round(took, 2),
                    "records_per_s": round(args.records / took),
                    "batches_sent": sync.counters.batches_sent,
                    "timeouts": sync.counters.timeouts,
                }
            )
        )


if __name__ == "__main__":
    main()
