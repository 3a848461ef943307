"""Simulated lanes: the lane's sending protocol over one MQTT connection, timed per record.

A :class:`SimLane` sends its records from ``acked + 1`` in consecutive batches of at most
``batch`` records, keeps at most ``window`` batches unacked, and when the oldest unacked
batch has waited ``resend_s`` (doubled at each try) it starts again from the last ack (as edge/sync's
window does). Records are sealed before the clock starts; a record becomes sendable at its
release time (all at once for a backlog, two a second for the steady state).
:class:`Fleet` drives many lanes over one paho client: one thread pumps, paho's thread
takes the acks; both under one condition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.mqtt.payloads import Ack, TxnBatch
from contracts.mqtt.topics import LaneTopic, lane_filter, lane_topic
from contracts.records.sealed import TransactionRecord

PUMP_S = 0.002
RESEND_MAX_S = 300.0  # the lane's default [sync] resend_max_s


@dataclass
class SimLane:
    """One lane's outbox: records, what central acked, when each record was first sent."""

    plaza_id: str
    lane_id: str
    records: Sequence[TransactionRecord]
    batch: int
    window: int
    resend_s: float
    release: Callable[[float], int] | None = None
    """Records sendable ``t`` seconds into the phase; None: all of them from the start."""
    acked: int = 0
    next_seq: int = 1
    resends: int = 0
    in_flight: list[tuple[int, float]] = field(default_factory=list)
    first_sent: list[float] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)
    _payloads: dict[tuple[int, int], bytes] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.acked >= len(self.records)

    def reset(self) -> None:
        """Back to nothing sent or acked (the serialised batches kept), for another run."""
        self.acked, self.next_seq, self.resends = 0, 1, 0
        self.in_flight, self.first_sent, self.acked_at = [], [], []

    def prebuild(self) -> None:
        """Serialise the batches a full backlog sends, so that the clock times no JSON."""
        for first in range(1, len(self.records) + 1, self.batch):
            self._payload(first, min(first + self.batch - 1, len(self.records)))

    def _payload(self, first: int, last: int) -> bytes:
        key = (first, last)
        if key not in self._payloads:
            self._payloads[key] = TxnBatch(
                plaza_id=self.plaza_id,
                lane_id=self.lane_id,
                sent_at=datetime.now(UTC),
                records=tuple(self.records[first - 1 : last]),
            ).to_bytes()
        return self._payloads[key]

    def pump(self, now: float, since: float, publish: Callable[[str, bytes], None]) -> None:
        """Send what the window allows; start again from the ack when the oldest timed out."""
        wait = min(self.resend_s * 2**self.resends, RESEND_MAX_S)  # doubled per try, as the lane
        if self.in_flight and now - self.in_flight[0][1] > wait:
            self.resends += 1
            self.in_flight.clear()
            self.next_seq = self.acked + 1
        released = len(self.records) if self.release is None else self.release(now - since)
        released = min(released, len(self.records))
        topic = lane_topic(self.plaza_id, self.lane_id, LaneTopic.TXN)
        while len(self.in_flight) < self.window and self.next_seq <= released:
            last = min(self.next_seq + self.batch - 1, released)
            publish(topic, self._payload(self.next_seq, last))
            while len(self.first_sent) < last:
                self.first_sent.append(now)
            self.in_flight.append((last, now))
            self.next_seq = last + 1

    def on_ack(self, seq: int, now: float) -> None:
        if seq <= self.acked:
            return
        seq = min(seq, len(self.records))
        self.acked = seq
        while len(self.acked_at) < seq:
            self.acked_at.append(now)
        self.in_flight = [entry for entry in self.in_flight if entry[0] > seq]

    def lags_s(self) -> list[float]:
        """Per acked record: its ack's arrival less its first publish."""
        return [ack - sent for sent, ack in zip(self.first_sent, self.acked_at, strict=False)]


class Fleet:
    """Many :class:`SimLane` over one MQTT 5 connection (QoS 1, the acks subscribed)."""

    def __init__(self, host: str, port: int, plaza_id: str, name: str) -> None:
        self.plaza_id = plaza_id
        self.lanes: dict[str, SimLane] = {}
        self._cond = threading.Condition()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5
        )
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.on_message = self._message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        self._client.subscribe(lane_filter(LaneTopic.ACK, plaza_id), qos=1)
        if not subscribed.wait(10):
            self.close()
            raise RuntimeError(f"the broker at {host}:{port} did not confirm the ack subscription")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        ack = Ack.model_validate_json(msg.payload)
        now = time.perf_counter()
        with self._cond:
            lane = self.lanes.get(ack.lane_id)
            if lane is not None:
                lane.on_ack(ack.acked_seq, now)
                self._cond.notify()

    def _publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1)

    def run(self, lanes: Sequence[SimLane], timeout_s: float) -> float:
        """Send ``lanes`` until all are acked; the seconds from first publish to last ack."""
        with self._cond:
            self.lanes = {lane.lane_id: lane for lane in lanes}
        start = time.perf_counter()
        deadline = start + timeout_s
        last_ack = start
        with self._cond:
            while not all(lane.done for lane in lanes):
                now = time.perf_counter()
                if now > deadline:
                    missing = sum(len(ln.records) - ln.acked for ln in lanes)
                    raise TimeoutError(f"{missing} records not acked after {timeout_s:.0f} s")
                for lane in lanes:
                    lane.pump(now, start, self._publish)
                self._cond.wait(PUMP_S)
            last_ack = max(lane.acked_at[-1] for lane in lanes if lane.acked_at)
        return last_ack - start
