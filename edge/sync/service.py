"""The lane's sync with central: outbox, state, telemetry, commands, entries and lookups.

One thread of its own does the work, so the lane's control loop never waits on
the network or on a large read. It wakes when paho reports something (connected,
lost, an ack, a command), when a command's answer is ready, and every
``poll_s`` to look at the store's heads for new records.

Delivery (ARCHITECTURE.md "MQTT topics"): records go out from the acked
``lane_seq`` + 1 in consecutive batches, QoS 1, a window of batches at a time
(:mod:`edge.sync.window`). Central's ack is written to the store (``streams``
table and head file, :meth:`edge.store.Store.ack`) before the outbox moves on,
so a restarted outbox resumes where central's last ack left it. After every
(re)connection the outbox sends again from ``acked_seq + 1``: whatever the broker
kept or lost is irrelevant. An ack that cannot be true (not one, another lane's,
beyond the records stored) is logged, counted and ignored.
"""

from __future__ import annotations

import asyncio
import queue
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts.commands import CommandResult, ResendCommand
from contracts.mqtt.payloads import (
    Ack,
    EventBatch,
    LaneState,
    PayloadError,
    StreamCounts,
    Telemetry,
    TxnBatch,
    parse_payload,
)
from contracts.mqtt.topics import NETWORK_CONFIG_TOPIC, LaneTopic, plaza_config_topic
from contracts.records.vocab import DetailValue
from edge.config.sync import SyncConfig
from edge.store import Store, StoreError
from edge.store.streams import STREAMS, StreamName
from edge.sync.commands import Handler, RemoteCommands
from edge.sync.entries import EntryReplica
from edge.sync.link import Inbound, Link
from edge.sync.lookups import RemoteLookups
from edge.sync.reader import DayTally, StoreReader, StreamHead
from edge.sync.window import Pacing, StreamWindow
from plumbing import log

logger = log.get(__name__)

BATCHES: dict[StreamName, type[TxnBatch] | type[EventBatch]] = {
    "txn": TxnBatch,
    "event": EventBatch,
}
TOPICS: dict[StreamName, LaneTopic] = {"txn": LaneTopic.TXN, "event": LaneTopic.EVENT}
Alarm = Callable[[str, dict[str, DetailValue]], None]
"""Raises a lane alarm (kind, detail); called from the sync thread."""


@dataclass(frozen=True)
class LaneView:
    """What the lane looks like now, for its state and telemetry."""

    mode: str | None = None
    barrier: str | None = None
    faults: tuple[str, ...] = ()
    tariffs: tuple[tuple[str, int], ...] = ()
    """Tariff id and the version in force, of each tariff the lane prices with."""
    config_version: int | None = None
    """The version of central's configuration bundle in force on the lane."""


@dataclass(frozen=True)
class LaneFacts:
    """What does not change while the lane runs: who it is and what it runs."""

    plaza_id: str
    lane_id: str
    tz: ZoneInfo
    software_version: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass
class SyncCounters:
    """What the sync did, for tests, logs and metrics."""

    batches_sent: int = 0
    records_sent: int = 0
    timeouts: int = 0
    acks: int = 0
    bad_acks: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    store_errors: int = 0
    results_sent: int = 0


class SyncService:
    """Syncs one lane of the store at ``store_path``; ``start()``, then ``stop()``."""

    def __init__(
        self,
        config: SyncConfig,
        facts: LaneFacts,
        store_path: Path,
        *,
        view: Callable[[], LaneView] = LaneView,
        handler: Handler | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        alarm: Alarm | None = None,
        on_config: Callable[[str, bytes], object] | None = None,
        lookups: RemoteLookups | None = None,
    ) -> None:
        self.config = config
        self.lookups = lookups
        """The lane's remote entry lookups: requests go out and replies come in here."""
        self.on_config = on_config
        """Takes each message of the lane's two config topics (topic, payload), in this thread."""
        self.facts = facts
        self.store_path = store_path
        self.view = view
        self.environ = environ
        self.alarm = alarm
        self._alarmed: set[StreamName] = set()
        self.counters = SyncCounters()
        self.online = False
        self.failure: BaseException | None = None
        self._rng = rng or random.Random()
        self._inbox: queue.Queue[Inbound] = queue.Queue()
        self._wake = threading.Event()
        self._stopping = False
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self._windows: dict[StreamName, StreamWindow] = {}
        self._said: tuple[bool, LaneView] | None = None
        self._telemetry_due = 0.0
        self.last_backlog: dict[StreamName, int] = {}
        """The backlog at the outbox's last look (for metrics, read from any thread)."""
        self.commands = RemoteCommands(handler, loop, self._resend, self._answer)
        self.site_entries = EntryReplica(facts.plaza_id, facts.lane_id)
        """The site's other lanes' entries, from central, into this lane's store."""

    # -- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store for reading and acks, start connecting; returns at once."""
        self._reader = StoreReader(self.store_path, self.facts.lane_id)
        try:
            self._store = Store.open(self.store_path)
        except BaseException:
            self._reader.close()
            raise
        self._tally = DayTally(self._reader, self.facts.tz)
        pacing = Pacing(
            self.config.batch_size,
            self.config.window,
            self.config.resend_timeout_s,
            self.config.resend_max_s,
        )
        heads = self._reader.heads()
        self._windows = {
            name: StreamWindow(heads[name].acked_seq, pacing, self._rng) for name in STREAMS
        }
        try:
            self._link = Link(
                self.config,
                self.facts.plaza_id,
                self.facts.lane_id,
                will=self._will,
                inbox=self._inbox,
                wake=self._wake,
                config_topics=(
                    (plaza_config_topic(self.facts.plaza_id), NETWORK_CONFIG_TOPIC)
                    if self.on_config is not None
                    else ()
                ),
                environ=self.environ,
            )
        except BaseException:
            self._store.close()
            self._reader.close()
            raise
        self._thread = threading.Thread(
            target=self._main, name=f"sync-{self.facts.lane_id}", daemon=True
        )
        self._thread.start()
        if self.lookups is not None:
            self.lookups.send = self._ask
        self._link.start()
        logger.info(
            "sync_started",
            host=self.config.broker.host,
            port=self.config.broker.port,
            acked={name: w.acked_seq for name, w in self._windows.items()},
        )

    def stop(self) -> None:
        """Say the lane is offline (retained), disconnect cleanly, close the store."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self.lookups is not None:
            self.lookups.send = None
        self._stopping = True
        self._wake.set()
        thread.join(10)
        logger.info("sync_stopped", **self.figures())

    def wake(self) -> None:
        """Look for new records now (the store's write path may call this)."""
        self._wake.set()

    def acked(self, stream: StreamName) -> int:
        """The highest lane_seq of ``stream`` central acked, as written to the store."""
        return self._windows[stream].acked_seq

    @property
    def mqtt_version(self) -> str:
        """The MQTT version the lane connects with now: 5, or 3.1.1 (asked, or fallen back to)."""
        return "5" if self._link.mqtt5 else "3.1.1"

    def backlog(self) -> dict[StreamName, int]:
        return {name: head.backlog for name, head in self._reader.heads().items()}

    def figures(self) -> dict[str, Any]:
        counters = self.counters
        return {
            "batches_sent": counters.batches_sent,
            "records_sent": counters.records_sent,
            "timeouts": counters.timeouts,
            "acks": counters.acks,
            "bad_acks": dict(counters.bad_acks),
        }

    # -- the thread ---------------------------------------------------------------------------

    def _main(self) -> None:
        pause = self.config.poll_s
        try:
            while not self._stopping:
                self._wake.wait(pause)
                self._wake.clear()
                try:
                    self._take_inbox()
                    if self.online and not self._stopping:
                        self._step()
                    pause = self.config.poll_s
                except (sqlite3.Error, StoreError) as exc:
                    # A busy or failing store: try again later; unwritten acks come again.
                    pause = min(30.0, max(1.0, 2 * pause))
                    self.counters.store_errors += 1
                    logger.error("sync_store_error", error=str(exc), retry_s=pause)
        except Exception as exc:
            self.failure = exc
            logger.exception("sync_failed")
        finally:
            self._close()

    def _close(self) -> None:
        last = None
        try:
            if self.online:
                last = self._state(online=False, view=self.view(), heads=self._reader.heads())
        except (sqlite3.Error, StoreError) as exc:
            logger.error("sync_last_state_unknown", error=str(exc))
        finally:
            self._link.stop(last)
            self._store.close()
            self._reader.close()

    def _take_inbox(self) -> None:
        acks: dict[StreamName, int] = {}
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item.what == "up":
                self._connected()
            elif item.what == "down":
                if self.online:
                    logger.warning("sync_disconnected", reason=item.detail)
                self.online = False
            elif item.what == "mqtt5_refused":
                self._link.fall_back(item.detail)
            elif item.what == "result":
                self.counters.results_sent += 1
                self._link.publish(LaneTopic.CMD_RESULT, item.payload)
            elif item.kind is LaneTopic.ACK:
                self._read_ack(item.payload, acks)
            elif item.what == "lookup":
                self._link.publish(LaneTopic.LOOKUP, item.payload)
            elif item.kind is LaneTopic.LOOKUP_REPLY and self.lookups is not None:
                self.lookups.take(item.payload)
            elif item.kind is LaneTopic.ENTRIES:
                self.site_entries.take(self._store, item.payload)
            elif item.kind is LaneTopic.CMD:
                self.commands.take(item.payload)
            elif item.what == "config" and self.on_config is not None:
                self.on_config(item.detail, item.payload)
        for stream, seq in acks.items():
            self._store.ack(self.facts.lane_id, stream, seq)
            self._windows[stream].acked(seq, time.monotonic())

    def _connected(self) -> None:
        """A new session: nothing the broker held counts; send from the acked seq again."""
        self.online = True
        self.counters.connections += 1
        heads = self._reader.heads()
        for name, window in self._windows.items():
            window.acked(heads[name].acked_seq, time.monotonic())
            window.restart_from(window.acked_seq + 1)
        self._said = None
        self._telemetry_due = 0.0
        logger.info("sync_connected", backlog={n: h.backlog for n, h in heads.items()})

    def _read_ack(self, raw: bytes, acks: dict[StreamName, int]) -> None:
        try:
            ack = parse_payload(Ack, raw, plaza_id=self.facts.plaza_id, lane_id=self.facts.lane_id)
        except PayloadError as exc:
            self._bad_ack("invalid", str(exc))
            return
        head = self._reader.heads()[ack.stream]
        if ack.acked_seq > head.last_seq:
            self._bad_ack(
                "beyond_head",
                f"{ack.stream} ack of lane_seq {ack.acked_seq}, the store ends at {head.last_seq}",
            )
            self._behind(ack.stream, ack.acked_seq, head.last_seq)
            return
        self.counters.acks += 1
        acks[ack.stream] = max(acks.get(ack.stream, 0), ack.acked_seq)

    def _behind(self, stream: StreamName, acked: int, last: int) -> None:
        """Central holds records this store does not: it lost its tail (edge.store.head).

        Said once per stream and run, as an alarm record; the ack itself is ignored,
        and the lane goes on numbering from its own head.
        """
        if self.alarm is None or stream in self._alarmed:
            return
        self._alarmed.add(stream)
        self.alarm(
            "store_behind_central",
            {"stream": stream, "central_acked_seq": acked, "store_last_seq": last},
        )

    def _bad_ack(self, why: str, error: str) -> None:
        self.counters.bad_acks[why] += 1
        logger.warning("sync_ack_refused", why=why, error=error[:500])

    def _step(self) -> None:
        now = time.monotonic()
        heads = self._reader.heads()
        self.last_backlog = {name: head.backlog for name, head in heads.items()}
        for name, window in self._windows.items():
            if window.timed_out(now):
                self.counters.timeouts += 1
                logger.info(
                    "sync_resending", stream=name, from_seq=window.next_seq, tries=window.tries
                )
            self._send(name, window, heads[name], now)
        view = self.view()
        if self._said != (True, view):
            self._link.publish(LaneTopic.STATE, self._state(online=True, view=view, heads=heads))
            self._said = (True, view)
        if now >= self._telemetry_due:
            self._telemetry_due = now + self.config.telemetry_s
            self._link.publish(LaneTopic.TELEMETRY, self._telemetry(view, heads))

    def _send(self, name: StreamName, window: StreamWindow, head: StreamHead, now: float) -> None:
        facts = self.facts
        while (span := window.next_range(head.last_seq)) is not None:
            records = self._reader.records(name, *span)
            if not records or records[0].lane_seq != span[0]:
                logger.error("sync_records_missing", stream=name, first=span[0], last=span[1])
                return
            batch = BATCHES[name](
                plaza_id=facts.plaza_id,
                lane_id=facts.lane_id,
                sent_at=datetime.now(UTC),
                records=tuple(records),
            )
            if not self._link.publish(TOPICS[name], batch.to_bytes()):
                return  # not connected, or paho's queue is full: the window waits
            window.sent(span[0], records[-1].lane_seq, now)
            self.counters.batches_sent += 1
            self.counters.records_sent += len(records)

    # -- payloads ---------------------------------------------------------------------------

    def _state(
        self, *, online: bool, view: LaneView, heads: Mapping[StreamName, StreamHead] | None
    ) -> bytes:
        facts = self.facts
        return LaneState(
            plaza_id=facts.plaza_id,
            lane_id=facts.lane_id,
            online=online,
            at=datetime.now(UTC),
            mode=view.mode,
            barrier=view.barrier,
            software_version=facts.software_version,
            tariffs=dict(view.tariffs),
            config_version=view.config_version,
            backlog=_counts(heads),
        ).to_bytes()

    def _will(self) -> bytes:
        """Offline, at the start of the connection it ends (paho's thread): nothing else known."""
        return self._state(online=False, view=LaneView(), heads=None)

    def _telemetry(self, view: LaneView, heads: Mapping[StreamName, StreamHead]) -> bytes:
        facts = self.facts
        now = datetime.now(UTC)
        return Telemetry(
            plaza_id=facts.plaza_id,
            lane_id=facts.lane_id,
            at=now,
            uptime_s=time.monotonic() - self._started,
            backlog=_counts(heads),
            faults=view.faults,
            versions=dict(facts.versions),
            totals=tuple(self._tally.update(now)),
        ).to_bytes()

    # -- commands -----------------------------------------------------------------------------

    def _resend(self, command: ResendCommand) -> str | None:
        head = self._reader.heads()[command.stream]
        if command.from_seq > head.last_seq:
            return (
                f"from_seq: {command.stream} lane_seq {command.from_seq} is beyond the last "
                f"stored, {head.last_seq}"
            )
        self._windows[command.stream].restart_from(command.from_seq)
        return None

    def _ask(self, request: bytes) -> bool:
        """From the loop: an entry lookup to publish now; False while not connected."""
        if not self.online:
            return False
        self._inbox.put(Inbound("lookup", payload=request))
        self._wake.set()
        return True

    def _answer(self, result: CommandResult) -> None:
        """From any thread: the answer goes out from the sync thread."""
        self._inbox.put(Inbound("result", payload=result.model_dump_json().encode()))
        self._wake.set()


def _counts(heads: Mapping[StreamName, StreamHead] | None) -> StreamCounts:
    if heads is None:
        return StreamCounts()
    return StreamCounts(txn=heads["txn"].backlog, event=heads["event"].backlog)
