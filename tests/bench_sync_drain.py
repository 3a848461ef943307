"""How fast a lane's backlog drains to a central that acks at once (not a test; a figure).

    PYTHONPATH=. python tests/bench_sync_drain.py --records 30000 [--host H --port P]
        [--central-process]

Fills a fresh store with ``--records`` transaction records (one commit), starts
the outbox against the broker (the machine's mosquitto by default) and the fake
central of :mod:`edge.sync.testing` (which parses and verifies every batch and acks the
highest contiguous ``lane_seq`` after each), and reports the time from the
outbox's start until the store holds central's ack of the last record. The fake
central shares the outbox's process (and its GIL) unless ``--central-process``
runs it in a process of its own, as central is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from contracts.testing import paid_exit
from edge.store import Store
from edge.sync import SyncService
from edge.sync.testing import LANE, START, acked, central, facts, sync_config, until


def fill_fast(path: Path, count: int) -> None:
    with Store.open(path) as store, store.batch():
        for index in range(count):
            at = START + timedelta(seconds=3 * index)
            store.append_transaction(paid_exit(LANE, at, fee=100 + index % 7 * 50))


CENTRAL = """
import sys, time
from edge.sync.testing import central
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with central(host, port) as fake:
    print("ready", flush=True)
    while fake.held("txn") < count:
        time.sleep(0.01)
    print("held", flush=True)
    time.sleep(1.0)
"""


@contextmanager
def central_process(host: str, port: int, count: int) -> Iterator[subprocess.Popen[str]]:
    """The fake central in a child process; it has subscribed when this yields."""
    child = subprocess.Popen(
        [sys.executable, "-c", CENTRAL, host, str(port), str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the fake central did not start")
        yield child
    finally:
        child.kill()
        child.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--central-process", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "site.db"
        fill_fast(store, args.records)
        config = sync_config(
            args.host, args.port, batch_size=args.batch_size, window=args.window, poll_s=0.2
        )
        sync = SyncService(config, facts(), store)
        if args.central_process:
            with central_process(args.host, args.port, args.records):
                took = drain(sync, store, args.records)
        else:
            with central(args.host, args.port) as fake:
                took = drain(sync, store, args.records)
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
                    "central": "own process" if args.central_process else "same process",
                }
            )
        )


def drain(sync: SyncService, store: Path, count: int) -> float:
    """Seconds from the outbox's start until central's ack of the last record is stored."""
    started = time.perf_counter()
    sync.start()
    try:
        until(lambda: sync.acked("txn") == count, "the drain", 600.0)
        return time.perf_counter() - started
    finally:
        sync.stop()


if __name__ == "__main__":
    main()
