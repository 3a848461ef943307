"""Lane daemons as real processes for the sync tests, and records fed into their stores.

A :class:`DaemonLane` is ``lanewarden edge run`` in a process of its own (READY
by sd_notify, SIGKILL to its process group), with a ``[sync]`` section for the
test's broker and its simulated devices (I/O module, camera, display) in this
process. A :class:`Feeder` appends sealed transactions to the lanes' stores from
a thread, through the store's public API, as another writer of a shared site
store does: the lane's own outbox finds them there and delivers them. A
:class:`BatchWatch` sees every transaction batch the lanes publish, so that a
test knows what has left a lane whoever takes it. This module holds no tests.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from mqtt_broker import MqttBroker
from paho.mqtt.enums import CallbackAPIVersion

from contracts.mqtt.payloads import TxnBatch, parse_payload
from contracts.mqtt.topics import LaneTopic, lane_filter, parse_lane_topic
from contracts.records.sealed import LaneEventRecord, TransactionRecord
from contracts.testing import paid_exit
from edge.daemon.testing import lane_files
from edge.store import Store, SyncStatus
from edge.sync.testing import START, sync_section
from fleet.lane_files import toml_text
from fleet.lane_process import LaneProcess
from fleet.rig import LaneRig

START_TIMEOUT_S = 60.0
"""A lane's start (imports, plate models) on a loaded 2-core machine."""


class DaemonLane:
    """One lane's daemon process and its devices; :meth:`close` stops both."""

    def __init__(
        self,
        folder: Path,
        lane_id: str,
        plaza_lanes: Sequence[str],
        broker: MqttBroker,
        *,
        lane_kind: str = "parking_exit",
        policy: str = "",
    ) -> None:
        self.lane_id = lane_id
        self.store_path = folder / f"{lane_id}.db"
        self.rig = LaneRig(serial_barrier=False, fps=2.0)
        self.rig.start()
        try:
            path = lane_files(
                folder,
                lane_id=lane_id,
                lane_kind=lane_kind,
                policy=policy,
                devices=toml_text(self.rig.devices()),
                extra=sync_section(broker),
                store=self.store_path,
                plaza_lanes=plaza_lanes,
            )
        except BaseException:
            self.rig.stop()
            raise
        self.process = LaneProcess(path, folder / f"{lane_id}.log")

    def spawn(self) -> None:
        self.process.spawn(START_TIMEOUT_S)

    def wait_ready(self) -> None:
        """Until READY=1; :class:`~fleet.lane_process.LaneStartError` with its log if not."""
        self.process.wait_ready()

    def kill(self) -> int | None:
        return self.process.kill()

    def status(self) -> SyncStatus:
        with Store.open(self.store_path) as store:
            return store.sync_status(self.lane_id)

    def records(self) -> tuple[list[TransactionRecord], list[LaneEventRecord]]:
        """Every record of both streams in the lane's store, in lane_seq order."""
        with Store.open(self.store_path) as store:
            last = store.sync_status(self.lane_id)
            return (
                store.transactions(self.lane_id, 1, last.txn.last_seq),
                store.events(self.lane_id, 1, last.event.last_seq),
            )

    def close(self) -> None:
        try:
            self.process.stop()
        finally:
            self.rig.stop()


class Feeder:
    """Appends paid exits to each lane's store, one lane after the other, up to a quota.

    :meth:`allow` raises the quota per lane; the thread appends one record to
    every lane behind it each ``gap_s`` until all reach it, so records keep
    arriving while the test breaks things. :meth:`close` stops the thread and
    re-raises what it failed with.
    """

    def __init__(self, lanes: Sequence[DaemonLane], gap_s: float = 0.02) -> None:
        self.lanes = lanes
        self.gap_s = gap_s
        self.made = dict.fromkeys((lane.lane_id for lane in lanes), 0)
        self._quota = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="feeder")
        self._thread.start()

    def allow(self, quota: int) -> None:
        with self._changed:
            self._quota = max(self._quota, quota)
            self._changed.notify_all()

    def fed(self, quota: int) -> bool:
        """Whether every lane's store has ``quota`` of the records fed (raises the thread's error)."""
        if self._failure is not None:
            raise AssertionError("the feeder failed") from self._failure
        with self._changed:
            return min(self.made.values()) >= quota

    def _run(self) -> None:
        stores = {lane.lane_id: Store.open(lane.store_path) for lane in self.lanes}
        try:
            while True:
                with self._changed:
                    behind = [lane for lane, made in self.made.items() if made < self._quota]
                    if self._stopping:
                        return
                    if not behind:
                        self._changed.wait()
                        continue
                for lane_id in behind:
                    made = self.made[lane_id]
                    at = START + timedelta(seconds=30 * made)
                    stores[lane_id].append_transaction(paid_exit(lane_id, at, fee=100 + made))
                    with self._changed:
                        self.made[lane_id] = made + 1
                time.sleep(self.gap_s)
        except BaseException as exc:  # handed to the test by fed() and close()
            self._failure = exc
        finally:
            for store in stores.values():
                store.close()

    def close(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(10)
        if self._failure is not None:
            raise AssertionError("the feeder failed") from self._failure


class BatchWatch:
    """Every lane's transaction batches as the broker passes them on (not a shared subscriber).

    It subscribes again after each connection (a restarted broker forgot it);
    :meth:`sent` is the highest ``lane_seq`` seen from a lane, and
    :attr:`subscriptions` counts the connections it has subscribed on. A batch that does
    not read as the contract's is kept in :attr:`errors`.
    """

    def __init__(self, broker: MqttBroker) -> None:
        self.highest: dict[str, int] = {}
        self.errors: list[str] = []
        self.subscriptions = 0
        """Subscriptions the broker granted, one per connection."""
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"batch-watch-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = lambda client, *_: client.subscribe(
            lane_filter(LaneTopic.TXN), qos=1
        )
        self.client.on_subscribe = self._granted
        self.client.on_message = self._message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect_async(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise RuntimeError("the batch watch did not subscribe within 10 s")

    def _granted(self, *_: Any) -> None:
        self.subscriptions += 1
        self._subscribed.set()

    def _message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            address = parse_lane_topic(message.topic)
            batch = parse_payload(
                TxnBatch,
                bytes(message.payload),
                plaza_id=address.plaza_id,
                lane_id=address.lane_id,
            )
        except Exception as exc:  # the test reads errors
            self.errors.append(f"{message.topic}: {exc!r}"[:500])
            return
        with self._lock:
            lane = address.lane_id
            self.highest[lane] = max(self.highest.get(lane, 0), batch.last_seq)

    def sent(self, lane_id: str) -> int:
        with self._lock:
            return self.highest.get(lane_id, 0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
