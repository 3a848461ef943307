"""A small fake central for tests and commissioning of a lane's sync: it takes batches and acks them.

Public API (as ``structlog.testing`` is): lanewarden's sync tests use it, and a
technician can point a lane at a broker with this central behind it to see the
lane's records arrive before central is installed.

It reads every payload with :func:`contracts.mqtt.payloads.parse_payload` (so a
batch that does not verify fails the test), keeps the records by ``lane_seq``,
and, when ``auto_ack`` is on, acks the highest contiguous ``lane_seq`` after each
batch, as central does. It subscribes again after every reconnection (a broker
restarted without persistence forgot its subscriptions). :func:`fill` writes
records into a lane's store for it to send.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.commands import CommandResult
from contracts.mqtt.payloads import (
    Ack,
    EventBatch,
    LaneState,
    Stream,
    Telemetry,
    TxnBatch,
    parse_payload,
)
from contracts.mqtt.topics import LaneTopic, lane_topic
from contracts.records.lane_event import LaneEvent
from contracts.testing import paid_exit
from contracts.uuid7 import uuid7
from edge.config.sync import SyncConfig
from edge.store import Store
from edge.sync import LaneFacts, SyncService
from plumbing.broker import BrokerConfig
from plumbing.testing import wait_until

PLAZA = "riverside"
LANE = "riverside-exit"
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
"""Records start a few hours ago, so that they fall in the telemetry's days."""


def facts(lane_id: str = LANE) -> LaneFacts:
    """What the lane tells central about itself (Riverside, Asia/Shanghai)."""
    return LaneFacts(
        plaza_id=PLAZA,
        lane_id=lane_id,
        tz=ZoneInfo("Asia/Shanghai"),
        software_version="0.0-test",
        versions={"lanewarden": "0.0-test"},
    )


def sync_config(host: str, port: int, **overrides: Any) -> SyncConfig:
    """A sync section for the broker at ``host:port``, with short timers; ``overrides`` win."""
    settings: dict[str, Any] = {
        "broker": BrokerConfig(host=host, port=port, keepalive_s=5),
        "batch_size": 50,
        "window": 4,
        "resend_timeout_s": 1.0,
        "resend_max_s": 4.0,
        "telemetry_s": 0.5,
        "poll_s": 0.05,
    }
    return SyncConfig(**(settings | overrides))


class Endpoint(Protocol):
    """Where a broker listens."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


def sync_section(broker: Endpoint, *, settings: str = "", **login: Any) -> str:
    """A [sync] section for ``broker`` (``settings`` lines added), ``login`` in [sync.broker]."""
    lines = [
        "[sync]",
        "resend_timeout_s = 1.0",
        "telemetry_s = 0.3",
        "poll_s = 0.05",
        settings,
        "",
        "[sync.broker]",
        f'host = "{broker.host}"',
        f"port = {broker.port}",
        "keepalive_s = 5",
        *(f"{key} = {json.dumps(value)}" for key, value in login.items()),
    ]
    return "\n".join(lines) + "\n"


def fill(store_path: Path, txns: int, events: int = 0, lane_id: str = LANE) -> None:
    """Append ``txns`` paid exits and ``events`` lane events to the lane's store."""
    with Store.open(store_path) as store:
        done = store.sync_status(lane_id).txn.last_seq
        for index in range(txns):
            at = START + timedelta(seconds=30 * (done + index))
            store.append_transaction(paid_exit(lane_id, at, fee=100 + index % 5 * 50))
        done = store.sync_status(lane_id).event.last_seq
        for index in range(events):
            at = START + timedelta(seconds=10 * (done + index))
            store.append_event(
                LaneEvent.build(
                    id=uuid7(at), lane_id=lane_id, time=at, kind="loop_stuck", severity="warning"
                )
            )


def acked(store_path: Path, lane_id: str = LANE) -> tuple[int, int]:
    """How far central has acked the lane's (transactions, events)."""
    with Store.open(store_path) as store:
        status = store.sync_status(lane_id)
    return status.txn.acked_seq, status.event.acked_seq


@contextmanager
def running(service: SyncService) -> Iterator[SyncService]:
    """``service`` started for the ``with`` block, stopped after it."""
    service.start()
    try:
        yield service
    finally:
        service.stop()


def until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """:func:`plumbing.testing.wait_until` with the longer wait a broker round trip needs."""
    wait_until(condition, what, timeout_s, poll_s=0.02)


@dataclass
class Received:
    """What central got from the lane, per stream."""

    records: dict[str, dict[int, Any]] = field(default_factory=lambda: {"txn": {}, "event": {}})
    batches: list[tuple[str, int, int]] = field(default_factory=list)
    states: list[LaneState] = field(default_factory=list)
    telemetry: list[Telemetry] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    stored_before: dict[str, int] = field(default_factory=dict)
    """What this central already held before it started (a restarted lane's central)."""

    def contiguous(self, stream: str) -> int:
        seq = self.stored_before.get(stream, 0)
        held = self.records[stream]
        while seq + 1 in held:
            seq += 1
        return seq


class FakeCentral:
    """Central for one lane on a real broker; ``close()`` when done."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        lane_id: str = LANE,
        auto_ack: bool = True,
        stored_before: dict[str, int] | None = None,
    ) -> None:
        self.lane_id = lane_id
        self.auto_ack = auto_ack
        self.got = Received(stored_before=stored_before or {})
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self._subscribed: queue.Queue[int] = queue.Queue()
        self.topic = {kind: lane_topic(PLAZA, lane_id, kind) for kind in LaneTopic}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fake-central-{lane_id}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda _c, _u, mid, _r, _p: self._subscribed.put(mid)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect_async(host, port, keepalive=5)
        self.client.loop_start()
        self._subscribed.get(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        kinds = (
            LaneTopic.TXN,
            LaneTopic.EVENT,
            LaneTopic.STATE,
            LaneTopic.TELEMETRY,
            LaneTopic.CMD_RESULT,
        )
        wanted: list[tuple[str, int]] = [(self.topic[kind], 1) for kind in kinds]
        client.subscribe(wanted)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._take(message.topic, bytes(message.payload))
        except Exception as exc:  # reported to the test through self.errors
            self.errors.append(repr(exc))

    def _take(self, topic: str, raw: bytes) -> None:
        got, lane_id = self.got, self.lane_id
        with self.lock:
            if topic == self.topic[LaneTopic.STATE]:
                got.states.append(parse_payload(LaneState, raw, plaza_id=PLAZA, lane_id=lane_id))
            elif topic == self.topic[LaneTopic.TELEMETRY]:
                got.telemetry.append(parse_payload(Telemetry, raw, plaza_id=PLAZA, lane_id=lane_id))
            elif topic == self.topic[LaneTopic.CMD_RESULT]:
                got.results.append(CommandResult.model_validate_json(raw))
            else:
                batch: TxnBatch | EventBatch
                if topic == self.topic[LaneTopic.TXN]:
                    batch = parse_payload(TxnBatch, raw, plaza_id=PLAZA, lane_id=lane_id)
                else:
                    batch = parse_payload(EventBatch, raw, plaza_id=PLAZA, lane_id=lane_id)
                stream = batch.stream
                for record in batch.records:
                    got.records[stream][record.lane_seq] = record
                got.batches.append((stream, batch.first_seq, batch.last_seq))
                if self.auto_ack:
                    self.ack(stream, got.contiguous(stream), wait=False)

    def ack(
        self, stream: Stream, seq: int, *, lane_id: str | None = None, wait: bool = True
    ) -> None:
        """Ack ``seq``; ``wait=False`` from paho's own thread (which must carry the PUBACK)."""
        body = Ack(
            plaza_id=PLAZA,
            lane_id=lane_id or self.lane_id,
            stream=stream,
            acked_seq=seq,
            at=datetime.now(UTC),
        )
        self.publish(LaneTopic.ACK, body.to_bytes(), wait=wait)

    def publish(self, kind: LaneTopic, raw: bytes, *, wait: bool = True) -> None:
        info = self.client.publish(self.topic[kind], raw, qos=1)
        if wait:
            info.wait_for_publish(5)

    def held(self, stream: str) -> int:
        with self.lock:
            return self.got.contiguous(stream)

    def batches(self, stream: str) -> list[tuple[int, int]]:
        with self.lock:
            return [(first, last) for s, first, last in self.got.batches if s == stream]


@contextmanager
def central(host: str, port: int, **kwargs: Any) -> Iterator[FakeCentral]:
    """A :class:`FakeCentral` for the ``with`` block; fails after it if a payload did not parse."""
    fake = FakeCentral(host, port, **kwargs)
    try:
        yield fake
    finally:
        fake.close()
    if fake.errors:
        raise AssertionError(f"central could not take what the lane sent: {fake.errors}")
