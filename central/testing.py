"""Simulated lanes for tests and commissioning of central: sealed chains published, acks read.

Public API (as ``structlog.testing`` is): central's tests drive it with these,
and a technician can point one at a new central to watch it store and ack a
lane's records before any lane is connected.

:func:`write_config` writes a central file for a broker and a database;
:class:`Central` runs ``lanewarden central run`` on it as systemd would (its own
session, JSON log lines to a file beside the config), reads its Prometheus
metrics and kills it. A :class:`SimLane` is what central sees of a lane on the broker: it publishes
batches of one real record chain (``contracts.testing``) on its ``txn`` topic and
listens on its ``ack`` and ``cmd`` topics. It does not keep an outbox: a test that
wants a resend calls :meth:`SimLane.resend_unacked` itself. :func:`ingest_config` is an in-process
central's file for such a broker: two workers (one on a 3.1.1 broker), no metrics port.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from central.config import CentralConfig
from contracts.commands import Command, parse_command
from contracts.mqtt.payloads import Ack, TxnBatch
from contracts.mqtt.topics import LaneTopic, lane_topic
from contracts.records.sealed import TransactionRecord
from contracts.testing import EPOCH, transaction_chain
from plumbing.testing import free_port, wait_until


class SimLane:
    """One lane's records and its MQTT client (MQTT 5 unless ``mqtt5`` is false)."""

    def __init__(
        self,
        host: str,
        port: int,
        plaza_id: str,
        lane_id: str,
        records: int,
        *,
        mqtt5: bool = True,
    ) -> None:
        self.plaza_id, self.lane_id = plaza_id, lane_id
        self.chain: tuple[TransactionRecord, ...] = tuple(transaction_chain(lane_id, records))
        self.acked = 0
        self.acks = 0
        self.commands: queue.Queue[Command] = queue.Queue()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sim-{plaza_id}-{lane_id}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        )
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._ready.wait(10):
            self.close()
            raise RuntimeError(f"lane {lane_id}: not subscribed within 10 s")

    def _connected(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(
            [
                (lane_topic(self.plaza_id, self.lane_id, LaneTopic.ACK), 1),
                (lane_topic(self.plaza_id, self.lane_id, LaneTopic.CMD), 1),
            ]
        )

    def _message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/ack"):
            ack = Ack.model_validate_json(message.payload)
            with self._lock:
                self.acks += 1
                self.acked = max(self.acked, ack.acked_seq)
        else:
            self.commands.put(parse_command(bytes(message.payload), EPOCH))

    def batch(self, first: int, count: int) -> TxnBatch:
        """Records ``first`` to ``first + count - 1`` of the chain as one payload."""
        records = self.chain[first - 1 : first - 1 + count]
        return TxnBatch(
            plaza_id=self.plaza_id, lane_id=self.lane_id, sent_at=EPOCH, records=records
        )

    def publish(self, payload: bytes, kind: LaneTopic = LaneTopic.TXN) -> None:
        """Publish ``payload`` on the lane's ``kind`` topic (QoS 1) and wait for the broker."""
        topic = lane_topic(self.plaza_id, self.lane_id, kind)
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def send(self, first: int, count: int) -> None:
        self.publish(self.batch(first, count).to_bytes())

    def send_all(self, size: int) -> None:
        """The whole chain in batches of ``size``."""
        for first in range(1, len(self.chain) + 1, size):
            self.send(first, min(size, len(self.chain) - first + 1))

    def resend_unacked(self, size: int) -> None:
        """What a lane's outbox does after its ack timeout: everything past the ack again."""
        for first in range(self.acked + 1, len(self.chain) + 1, size):
            self.send(first, min(size, len(self.chain) - first + 1))

    @property
    def done(self) -> bool:
        """Whether central has acked the whole chain."""
        return self.acked == len(self.chain)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_config(
    folder: Path, name: str, broker_port: int, url: str, workers: int
) -> tuple[Path, int]:
    """``folder/{name}.toml`` for a broker on loopback and the database at ``url``.

    Returns the file and the free port its metrics are served on.
    """
    path, metrics_port = folder / f"{name}.toml", free_port()
    path.write_text(
        f"""kind = "central"
[broker]
port = {broker_port}
[storage]
url = "{url}"
[ingest]
workers = {workers}
gap_timeout_s = 60
[metrics]
port = {metrics_port}
"""
    )
    return path, metrics_port


class Central:
    """One ``lanewarden central run`` process."""

    def __init__(
        self, config: Path, metrics_port: int = 0, env: dict[str, str] | None = None
    ) -> None:
        self.config = config
        self.port = metrics_port
        self.log = config.with_suffix(".log").open("w+b")
        self.proc = subprocess.Popen(  # noqa: S603 - this Python, this package, our config file
            [
                sys.executable,
                "-m",
                "plumbing.cli",
                "--log-format",
                "json",
                "central",
                "run",
                "--config",
                str(config),
            ],
            stdout=self.log,
            stderr=self.log,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def metric(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` with ``labels`` central serves now; None if none (or no answer)."""
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return sample.value
        return None

    def wait_connected(self, workers: int) -> None:
        """Wait until ``workers`` ingest workers are connected; fail with central's log."""
        wait_until(
            lambda: (
                self.proc.poll() is None
                and self.metric("lanewarden_central_workers_connected") == workers
            ),
            f"{workers} workers connected ({self.output()[-500:]})",
            30,
            poll_s=0.05,
        )

    def output(self) -> str:
        """Everything central has logged so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self) -> None:
        """Kill central if it still runs (SIGKILL: no clean shutdown) and close its log."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def ingest_config(port: int, *, mqtt5: bool, host: str = "127.0.0.1") -> CentralConfig:
    """Central's ingest on the broker at ``host:port``: shared workers when it speaks MQTT 5."""
    return CentralConfig.model_validate(
        {
            "kind": "central",
            "broker": {"host": host, "port": port, "protocol": "5" if mqtt5 else "3.1.1"},
            "ingest": {"workers": 2, "gap_timeout_s": 5, "resend_interval_s": 60},
            "metrics": {"enabled": False},
        }
    )
