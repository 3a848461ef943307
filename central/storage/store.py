"""Central's store: batches of sealed records in, acks and gaps and chain breaks out.

One batch is one transaction. It locks the lane's row in ``stream_acks`` first
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` locks the
whole database), so that workers storing batches of the same lane at the same
time take turns, and each sees what the other stored before it moves the ack.
Under that lock it reads only the neighbourhood of the batch (``first - 1 ..
last + 1``), writes the new records in one INSERT, and moves the ack: through
the batch when it continues the contiguous run, and on through records held
beyond it (a filled gap) with windowed reads that stop at the first hole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, Table, select, update

from central.storage import entries, migrate, registry, results
from central.storage.alarms import Alarm, AlarmState, change_alarm, open_alarm
from central.storage.bulk import insert_new
from central.storage.chain import ChainBreak, Held, chain_breaks, contiguous_end, sort_batch
from central.storage.engine import make_engine, upsert, writer
from central.storage.rows import STREAMS
from central.storage.schema import alarms, stream_acks
from central.storage.times import utc_in
from contracts.commands import CommandResult
from contracts.mqtt.payloads import (
    EventBatch,
    LaneState,
    StoredEntry,
    Stream,
    Telemetry,
    TxnBatch,
)
from contracts.records.sealed import LaneEventRecord, TransactionRecord

ADVANCE_WINDOW = 5000
"""lane_seq read per step when the ack runs on through records held beyond a batch."""


@dataclass(frozen=True)
class BatchOutcome:
    """What storing one batch did, and what the lane should be told."""

    stream: Stream
    lane_id: str
    stored: int
    """New records written."""
    duplicates: int
    """Records already held (same lane, stream, lane_seq and same hash)."""
    conflicts: tuple[int, ...]
    """lane_seq already held with a different hash: never overwritten; an alarm."""
    acked_seq: int
    """Highest contiguous lane_seq now stored for this lane and stream."""
    gap_from: int | None
    """acked_seq + 1 when records beyond it are held (a gap to ask for), else None."""
    chain_breaks: tuple[int, ...]
    """lane_seq whose prev_hash does not match the stored hash of lane_seq - 1."""


@dataclass(frozen=True)
class _Ack:
    acked_seq: int
    held_max: int


class CentralStore:
    """Central's database (SQLite or PostgreSQL), safe to share between threads."""

    def __init__(self, engine: Engine, *, advance_window: int = ADVANCE_WINDOW) -> None:
        if advance_window < 1:
            raise ValueError(f"advance_window: must be at least 1, got {advance_window}")
        self._engine = engine
        self._writer = writer(engine)
        self._window = advance_window

    @classmethod
    def open(cls, url: str, *, advance_window: int = ADVANCE_WINDOW) -> CentralStore:
        """Open ``sqlite:///path`` or ``postgresql+psycopg://...``, migrated to the newest schema."""
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, advance_window=advance_window)

    @property
    def engine(self) -> Engine:
        """For reads by reports and the console (the tables are in central.storage.schema)."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- records ---------------------------------------------------------------------------

    def store_batch(
        self, plaza_id: str, batch: TxnBatch | EventBatch, received_at: datetime
    ) -> BatchOutcome:
        """Store the records of ``batch`` not held yet, and move the lane's ack."""
        if batch.plaza_id != plaza_id:
            raise ValueError(
                f"plaza_id: the batch of lane {batch.lane_id!r} names plaza "
                f"{batch.plaza_id!r}, stored as {plaza_id!r}"
            )
        received_at = utc_in(received_at, "received_at")
        spec = STREAMS[batch.stream]
        lane, first, last = batch.lane_id, batch.first_seq, batch.last_seq
        with self._writer.begin() as connection:
            ack = self._lock_ack(connection, plaza_id, lane, batch.stream, received_at)
            held = _held(connection, spec.table, lane, first - 1, last + 1)
            sorting = sort_batch(batch.records, held)
            texts = batch.canonical_texts()
            rows = [
                spec.row(record, plaza_id, received_at, texts.get(record.lane_seq))
                for record in sorting.new
            ]
            insert_new(connection, spec.table, rows)
            breaks = chain_breaks(sorting.new, held)
            present = held.keys() | {record.lane_seq for record in sorting.new}
            acked = contiguous_end(ack.acked_seq, present)
            held_max = max(ack.held_max, last)
            if acked == last + 1 < held_max:
                acked = _advance(
                    connection,
                    spec.table,
                    lane,
                    acked=acked,
                    held_max=held_max,
                    window=self._window,
                )
            connection.execute(
                update(stream_acks)
                .where(stream_acks.c.lane_id == lane, stream_acks.c.stream == batch.stream)
                .values(acked_seq=acked, held_max=held_max, updated_at=received_at)
            )
            self._raise_alarms(
                connection,
                plaza_id=plaza_id,
                lane_id=lane,
                stream=batch.stream,
                breaks=breaks,
                conflicts=sorting.conflicts,
                at=received_at,
            )
        return BatchOutcome(
            stream=batch.stream,
            lane_id=lane,
            stored=len(sorting.new),
            duplicates=sorting.duplicates,
            conflicts=sorting.conflicts,
            acked_seq=acked,
            gap_from=acked + 1 if held_max > acked else None,
            chain_breaks=tuple(b.lane_seq for b in breaks),
        )

    def held_resend(
        self, lane_id: str, stream: Stream, claimed: Sequence[tuple[int, str]]
    ) -> BatchOutcome | None:
        """What storing a batch would do whose records (``(lane_seq, hash)``) are all held.

        The outcome of a pure resend (nothing new, every hash the one held, all at or
        below the ack) without storing anything: the ack and gap as they stand. None
        when the batch is anything else, which then goes through :meth:`store_batch`.
        Reads only, without the lane's lock: held records and the ack never go back.
        """
        if not claimed:
            return None
        spec = STREAMS[stream]
        low, high = claimed[0][0], claimed[-1][0]
        table = spec.table
        with self._engine.connect() as connection:
            ack = connection.execute(
                select(stream_acks.c.acked_seq, stream_acks.c.held_max).where(
                    stream_acks.c.lane_id == lane_id, stream_acks.c.stream == stream
                )
            ).first()
            if ack is None or high > ack.acked_seq:
                return None
            rows = connection.execute(
                select(table.c.lane_seq, table.c.hash).where(
                    table.c.lane_id == lane_id, table.c.lane_seq.between(low, high)
                )
            )
            held = {int(seq): digest for seq, digest in rows}
        if any(held.get(seq) != digest for seq, digest in claimed):
            return None
        acked, held_max = int(ack.acked_seq), int(ack.held_max)
        return BatchOutcome(
            stream=stream,
            lane_id=lane_id,
            stored=0,
            duplicates=len(claimed),
            conflicts=(),
            acked_seq=acked,
            gap_from=acked + 1 if held_max > acked else None,
            chain_breaks=(),
        )

    def acked_seq(self, lane_id: str, stream: Stream) -> int:
        """Highest contiguous lane_seq stored for the lane and stream; 0 when none."""
        with self._engine.connect() as connection:
            value = connection.execute(
                select(stream_acks.c.acked_seq).where(
                    stream_acks.c.lane_id == lane_id, stream_acks.c.stream == stream
                )
            ).scalar()
        return 0 if value is None else int(value)

    def record(
        self, lane_id: str, stream: Stream, lane_seq: int
    ) -> TransactionRecord | LaneEventRecord | None:
        """The stored record, rebuilt from its canonical JSON (its hash checked); None if absent."""
        spec = STREAMS[stream]
        with self._engine.connect() as connection:
            text = connection.execute(
                select(spec.table.c.canonical).where(
                    spec.table.c.lane_id == lane_id, spec.table.c.lane_seq == lane_seq
                )
            ).scalar()
        return None if text is None else spec.record_type.from_json(text)

    def open_entry(self, plate: str) -> StoredEntry | None:
        """The plate's open entry in the network (:mod:`central.storage.entries`)."""
        with self._engine.connect() as connection:
            return entries.open_entry(connection, plate)

    # -- lanes -----------------------------------------------------------------------------

    def note_state(self, state: LaneState, received_at: datetime) -> None:
        """Take a lane's state into the registry (see central.storage.registry)."""
        with self._writer.begin() as connection:
            registry.note_state(connection, state, utc_in(received_at, "received_at"))

    def site_lanes(self, plaza_id: str) -> list[str]:
        """The lanes of a plaza in the registry (:func:`central.storage.registry.site_lanes`)."""
        with self._engine.connect() as connection:
            return registry.site_lanes(connection, plaza_id)

    def note_telemetry(self, telemetry: Telemetry, received_at: datetime) -> None:
        """Keep a lane's latest telemetry and its day totals, and that it was seen."""
        with self._writer.begin() as connection:
            registry.note_telemetry(connection, telemetry, utc_in(received_at, "received_at"))

    def note_result(
        self, plaza_id: str, lane_id: str, result: CommandResult, received_at: datetime
    ) -> bool:
        """Keep a lane's answer to a command (central.storage.results); False if kept already."""
        with self._writer.begin() as connection:
            return results.note_result(
                connection, plaza_id, lane_id, result, utc_in(received_at, "received_at")
            )

    def command_results(self, lane_id: str | None = None) -> list[results.StoredResult]:
        """Lanes' answers to commands, oldest first, optionally of one lane."""
        with self._engine.connect() as connection:
            return results.results(connection, lane_id)

    # -- alarms ----------------------------------------------------------------------------

    def open_alarm(
        self,
        kind: str,
        *,
        plaza_id: str | None,
        lane_id: str | None,
        subject: str,
        detail: dict[str, Any],
        at: datetime,
        severity: str = "alarm",
    ) -> int:
        """Open an alarm (or find the unresolved one of the same kind and subject)."""
        if severity not in ("warning", "alarm"):
            raise ValueError(f"severity: {severity!r} is not warning or alarm")
        with self._writer.begin() as connection:
            return open_alarm(
                connection,
                kind=kind,
                plaza_id=plaza_id,
                lane_id=lane_id,
                subject=subject,
                severity="alarm" if severity == "alarm" else "warning",
                detail=detail,
                at=at,
            )

    def change_alarm(self, alarm_id: int, state: AlarmState, by: str, at: datetime) -> Alarm:
        """Acknowledge or resolve an alarm, recording who and when."""
        with self._writer.begin() as connection:
            return change_alarm(connection, alarm_id, state, by, at)

    def alarms(self, *, state: AlarmState | None = None, lane_id: str | None = None) -> list[Alarm]:
        """Alarms, oldest first, optionally of one state or lane."""
        query = select(alarms).order_by(alarms.c.id)
        if state is not None:
            query = query.where(alarms.c.state == state)
        if lane_id is not None:
            query = query.where(alarms.c.lane_id == lane_id)
        with self._engine.connect() as connection:
            return [Alarm.from_row(row) for row in connection.execute(query).mappings()]

    # -- inside a batch --------------------------------------------------------------------

    @staticmethod
    def _lock_ack(
        connection: Connection, plaza_id: str, lane_id: str, stream: Stream, at: datetime
    ) -> _Ack:
        """The lane's ack row, locked until the transaction ends (created at 0 if new)."""
        query = (
            select(stream_acks.c.acked_seq, stream_acks.c.held_max)
            .where(stream_acks.c.lane_id == lane_id, stream_acks.c.stream == stream)
            .with_for_update()
        )
        row = connection.execute(query).first()
        if row is None:
            connection.execute(
                upsert(connection, stream_acks)
                .values(
                    lane_id=lane_id,
                    stream=stream,
                    plaza_id=plaza_id,
                    acked_seq=0,
                    held_max=0,
                    updated_at=at,
                )
                .on_conflict_do_nothing()
            )
            row = connection.execute(query).one()
        return _Ack(int(row.acked_seq), int(row.held_max))

    @staticmethod
    def _raise_alarms(
        connection: Connection,
        *,
        plaza_id: str,
        lane_id: str,
        stream: Stream,
        breaks: Sequence[ChainBreak],
        conflicts: Sequence[int],
        at: datetime,
    ) -> None:
        for found in breaks:
            open_alarm(
                connection,
                kind="chain_broken",
                plaza_id=plaza_id,
                lane_id=lane_id,
                subject=f"{stream}:{found.lane_seq}",
                severity="alarm",
                detail={
                    "stream": stream,
                    "lane_seq": found.lane_seq,
                    "prev_hash": found.prev_hash,
                    "expected": found.expected,
                },
                at=at,
            )
        for lane_seq in conflicts:
            open_alarm(
                connection,
                kind="seq_conflict",
                plaza_id=plaza_id,
                lane_id=lane_id,
                subject=f"{stream}:{lane_seq}",
                severity="alarm",
                detail={"stream": stream, "lane_seq": lane_seq},
                at=at,
            )


def _held(
    connection: Connection, table: Table, lane_id: str, low: int, high: int
) -> dict[int, Held]:
    rows = connection.execute(
        select(table.c.lane_seq, table.c.hash, table.c.prev_hash).where(
            table.c.lane_id == lane_id, table.c.lane_seq.between(low, high)
        )
    )
    return {int(row.lane_seq): Held(row.hash, row.prev_hash) for row in rows}


def _advance(
    connection: Connection, table: Table, lane_id: str, *, acked: int, held_max: int, window: int
) -> int:
    """Run the ack on from ``acked`` through held records, a window at a time, to a hole."""
    while acked < held_max:
        seqs = connection.execute(
            select(table.c.lane_seq).where(
                table.c.lane_id == lane_id,
                table.c.lane_seq > acked,
                table.c.lane_seq <= acked + window,
            )
        ).scalars()
        reached = contiguous_end(acked, seqs)
        if reached < acked + window:
            return reached
        acked = reached
    return acked
