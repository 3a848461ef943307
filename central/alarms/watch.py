"""Central's alarms beside ingest: a store that runs the event rules on each batch it
stores, and the sweep that runs the time-based ones.

:class:`AlarmingStore` is the ingest's store (``central.ingest.handler.IngestStore``)
with the event rules after each batch, in a transaction of their own: an alarm
rule that fails is logged and never costs the lane its ack. Most batches concern
no rule (transactions while no loop is stuck, events of other kinds): those take
no transaction at all: which lanes have a stuck loop standing is read at most
every :data:`STUCK_REFRESH_S` (at once after this process stored a loop_stuck), so
a transaction batch costs one set lookup, and ingest keeps its throughput.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from central.alarms.events import LOOP_STUCK, EventAlarms
from central.alarms.raising import unresolved_subjects
from central.alarms.sweep import Sweeper
from central.config import CentralConfig
from central.storage import BatchOutcome, CentralStore
from central.storage.engine import writer
from contracts.commands import CommandResult
from contracts.mqtt.payloads import (
    EventBatch,
    LaneState,
    StoredEntry,
    Stream,
    Telemetry,
    TxnBatch,
)
from plumbing import log

logger = log.get(__name__)
STUCK_REFRESH_S = 5.0
SWEEP_LOCK = 0x4C57_414C  # "LWAL": the advisory lock of the alarm sweep


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlarmingStore:
    """``store`` for ingest, raising the event-driven alarms of every batch it stores."""

    def __init__(
        self,
        store: CentralStore,
        config: CentralConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.rules = EventAlarms(config.alarms)
        self._monotonic = monotonic
        self._stuck: frozenset[str] = frozenset()
        self._stuck_read: float | None = None

    def store_batch(
        self, plaza_id: str, batch: TxnBatch | EventBatch, received_at: datetime
    ) -> BatchOutcome:
        outcome = self.store.store_batch(plaza_id, batch, received_at)
        try:
            self._rules(plaza_id, batch, received_at)
        except SQLAlchemyError as exc:
            logger.warning(
                "alarm_rules_failed", lane_id=batch.lane_id, error=str(exc).splitlines()[0]
            )
        return outcome

    def _rules(self, plaza_id: str, batch: TxnBatch | EventBatch, at: datetime) -> None:
        """The event rules, in a write transaction only when the batch concerns one."""
        engine = self.store.engine
        if isinstance(batch, EventBatch):
            if self.rules.concern(batch.records):
                with writer(engine).begin() as connection:
                    self.rules.on_events(connection, plaza_id, batch.records, at)
                if any(r.kind == LOOP_STUCK for r in batch.records):
                    self._stuck_read = None
            return
        if batch.lane_id not in self._stuck_lanes():
            return
        with writer(engine).begin() as connection:
            stuck = self.rules.stuck_since(connection, batch.lane_id)
            if stuck is not None:
                self.rules.on_transactions(connection, batch.lane_id, batch.records, at, stuck)

    def _stuck_lanes(self) -> frozenset[str]:
        now = self._monotonic()
        if self._stuck_read is None or now - self._stuck_read >= STUCK_REFRESH_S:
            with self.store.engine.connect() as connection:
                self._stuck = frozenset(
                    lane for lane, _ in unresolved_subjects(connection, LOOP_STUCK) if lane
                )
            self._stuck_read = now
        return self._stuck

    def held_resend(
        self, lane_id: str, stream: Stream, claimed: Sequence[tuple[int, str]]
    ) -> BatchOutcome | None:
        return self.store.held_resend(lane_id, stream, claimed)  # stores nothing: no rule

    def acked_seq(self, lane_id: str, stream: Stream) -> int:
        return self.store.acked_seq(lane_id, stream)

    def note_state(self, state: LaneState, received_at: datetime) -> None:
        self.store.note_state(state, received_at)

    def note_telemetry(self, telemetry: Telemetry, received_at: datetime) -> None:
        self.store.note_telemetry(telemetry, received_at)

    def note_result(
        self, plaza_id: str, lane_id: str, result: CommandResult, received_at: datetime
    ) -> bool:
        return self.store.note_result(plaza_id, lane_id, result, received_at)

    def open_entry(self, plate: str) -> StoredEntry | None:
        return self.store.open_entry(plate)

    def site_lanes(self, plaza_id: str) -> list[str]:
        return self.store.site_lanes(plaza_id)


class AlarmSweep:
    """Runs :class:`Sweeper` every ``[alarms] sweep_s`` of the monotonic clock."""

    def __init__(
        self,
        store: CentralStore,
        config: CentralConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.every_s = config.alarms.sweep_s
        self.sweeper = Sweeper(
            config.alarms, config.plaza_tz, timedelta(seconds=config.reconcile.grace_s)
        )
        self._clock = clock
        self._due: float | None = None

    def tick(self, monotonic: float) -> bool:
        """Sweep when due; whether it swept."""
        if self._due is not None and monotonic < self._due:
            return False
        self._due = monotonic + self.every_s
        self.run(self._clock())
        return True

    def run(self, now: datetime) -> bool:
        """Sweep now; False when another central process is sweeping (PostgreSQL).

        Reconciliation, the heavy reading, runs first on a read connection: on SQLite
        the write transaction locks ingest out, so it holds only the short checks.
        """
        with self.store.engine.connect() as reading:
            findings = self.sweeper.reconciler.findings(reading, now)
        with writer(self.store.engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several central processes share the database: one sweeps at a time, so
                # that two never open the same alarm side by side.
                taken = connection.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK}
                ).scalar_one()
                if not taken:
                    return False
            self.sweeper.sweep(connection, now, findings)
        return True
