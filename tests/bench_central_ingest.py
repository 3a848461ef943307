"""Records per second through a broker and ``lanewarden central run`` into a database (a figure).

    PYTHONPATH=.:tests python tests/bench_central_ingest.py --url sqlite:///PATH|pg
        [--lanes 20] [--records 2500] [--batch 100] [--procs 1] [--workers 2]

Starts mosquitto on a free port and ``--procs`` central processes of ``--workers``
workers each (one shared-subscription group), builds ``--lanes`` sealed chains of
``--records`` records in batches of ``--batch`` before the clock starts, publishes
them lane by lane interleaved (QoS 1) and stops the clock when every lane's ack
covers its last record. ``--url pg`` uses a throwaway schema of
``LANEWARDEN_TEST_PG`` (default: the local test database). Prints one JSON line:
wall-clock records/s, and records per CPU-second of the central processes (their
imports and migration included), which says more on a machine other work loads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import paho.mqtt.client as mqtt
from central_db import PG_ENV, pg_schema_url
from mqtt_broker import MosquittoBroker, free_port
from paho.mqtt.enums import CallbackAPIVersion

from central.storage import CentralStore
from contracts.mqtt.payloads import Ack, TxnBatch
from contracts.mqtt.topics import LaneTopic, lane_filter, lane_topic
from contracts.testing import EPOCH, transaction_chain

PLAZA = "bench"
CENTRAL_RUN = [sys.executable, "-m", "plumbing.cli", "--log-level", "warning", "central", "run"]


def lane_payloads(job: tuple[str, int, int]) -> list[bytes]:
    lane, records, size = job
    chain = tuple(transaction_chain(lane, records))
    return [
        TxnBatch(
            plaza_id=PLAZA, lane_id=lane, sent_at=EPOCH, records=chain[i : i + size]
        ).to_bytes()
        for i in range(0, records, size)
    ]


def workers_connected(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("lanewarden_central_workers_connected "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class Acks:
    """The highest ack of every lane, and an event once all reach the last record."""

    def __init__(self, lanes: list[str], last: int) -> None:
        self.acked = dict.fromkeys(lanes, 0)
        self.last = last
        self.done = threading.Event()
        self._lock = threading.Lock()

    def on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        ack = Ack.model_validate_json(msg.payload)
        with self._lock:
            self.acked[ack.lane_id] = max(self.acked[ack.lane_id], ack.acked_seq)
            if all(seq == self.last for seq in self.acked.values()):
                self.done.set()


def client(port: int, name: str) -> mqtt.Client:
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    paho.max_inflight_messages_set(200)
    paho.connect("127.0.0.1", port)
    paho.loop_start()
    return paho


def measure(args: argparse.Namespace, url: str) -> dict[str, object]:
    lanes = [f"lane-{n}" for n in range(args.lanes)]
    with ProcessPoolExecutor(2) as pool:
        payloads = list(pool.map(lane_payloads, [(ln, args.records, args.batch) for ln in lanes]))
    CentralStore.open(url).close()  # migrated once, before the processes start
    tmp = Path(tempfile.mkdtemp(prefix="bench-central-ingest-"))
    broker = MosquittoBroker(shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = []
        for n in range(args.procs):
            port = free_port()
            ports.append(port)
            config = tmp / f"central-{n}.toml"
            config.write_text(
                f'kind = "central"\n[broker]\nport = {broker.port}\n[storage]\nurl = "{url}"\n'
                f"[ingest]\nworkers = {args.workers}\n[metrics]\nport = {port}\n"
            )
            with (tmp / f"central-{n}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        [*CENTRAL_RUN, "--config", str(config)],
                        stderr=log,
                    )
                )
        deadline = time.monotonic() + 60
        while sum(workers_connected(p) for p in ports) < args.procs * args.workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"central did not connect; logs in {tmp}")
            time.sleep(0.2)
        acks = Acks(lanes, args.records)
        listener = client(broker.port, "bench-acks")
        listener.on_message = acks.on_message
        listener.subscribe(lane_filter(LaneTopic.ACK, PLAZA), qos=1)
        publisher = client(broker.port, "bench-lanes")
        time.sleep(0.5)
        cpu_before = cpu_seconds([p.pid for p in procs])
        start = time.perf_counter()
        for index in range(len(payloads[0])):
            for lane, batches in zip(lanes, payloads, strict=True):
                publisher.publish(lane_topic(PLAZA, lane, LaneTopic.TXN), batches[index], qos=1)
        complete = acks.done.wait(args.timeout)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds([p.pid for p in procs]) - cpu_before
        for paho in (publisher, listener):
            paho.disconnect()
            paho.loop_stop()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        broker.close()
    total = args.lanes * args.records
    return {
        "backend": url.split(":", 1)[0],
        "procs": args.procs,
        "workers": args.workers,
        "records": total,
        "batch": args.batch,
        "complete": complete,
        "elapsed_s": round(elapsed, 2),
        "records_per_s": round(total / elapsed),
        "central_cpu_s": round(cpu, 2),
        "records_per_central_cpu_s": round(total / cpu) if cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True, help="sqlite:///PATH, or pg for a throwaway schema")
    parser.add_argument("--lanes", type=int, default=20)
    parser.add_argument("--records", type=int, default=2500, help="records per lane")
    parser.add_argument("--batch", type=int, default=100, help="records per batch")
    parser.add_argument("--procs", type=int, default=1, help="central processes")
    parser.add_argument("--workers", type=int, default=2, help="workers per process")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.url == "pg":
        os.environ.setdefault(PG_ENV, "postgresql://postgres@127.0.0.1:5432/test")
        with pg_schema_url() as url:
            print(json.dumps(measure(args, url)))
    else:
        print(json.dumps(measure(args, args.url)))


if __name__ == "__main__":
    main()
