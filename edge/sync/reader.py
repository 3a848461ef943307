"""The outbox's view of the lane store: its own read-only connection, never the lane's.

The lane's control loop writes through its own connection and lock; the outbox
reads heads and records through this one, in WAL mode, so a slow publish or a
large batch never holds up a passage. Every read is one statement, so it sees
one committed state of the store.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts.mqtt.payloads import DayTotal
from contracts.reconcile import DayBook, plaza_day
from contracts.records.vocab import PaymentStatus, TxnStatus
from edge.store import StoreError
from edge.store.streams import STREAMS, StreamName
from edge.store.times import loaded_time, stored_time


@dataclass(frozen=True)
class StreamHead:
    last_seq: int
    acked_seq: int

    @property
    def backlog(self) -> int:
        return self.last_seq - self.acked_seq


class StoreReader:
    """Read-only access to one lane's records in the store at ``path``."""

    def __init__(self, path: Path, lane_id: str) -> None:
        self.path = path
        self.lane_id = lane_id
        if not path.is_file():
            raise StoreError(f"{path}: no such store file")
        try:
            self.conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open read-only: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def heads(self) -> dict[StreamName, StreamHead]:
        """Last stored and last acked ``lane_seq`` of each stream (0 and 0 before any)."""
        rows = self.conn.execute(
            "SELECT stream, last_seq, acked_seq FROM streams WHERE lane_id = ?", (self.lane_id,)
        ).fetchall()
        found = {row[0]: StreamHead(row[1], row[2]) for row in rows}
        return {name: found.get(name, StreamHead(0, 0)) for name in STREAMS}

    def records(self, stream: StreamName, first: int, last: int) -> list[Any]:
        """The sealed records ``first..last`` of ``stream``, in order (fewer if not stored)."""
        kind = STREAMS[stream]
        rows = self.conn.execute(
            kind.select_range, (self.lane_id, first, last - first + 1)
        ).fetchall()
        return [kind.record_from_row(row) for row in rows]


@dataclass(frozen=True)
class _Row:
    """The fields of a transaction row the day totals read (contracts.reconcile.Counted)."""

    recorded_at: datetime
    status: TxnStatus
    payment_status: PaymentStatus
    fee_total: int | None
    references: str | None
    currency: str | None


class DayTally:
    """Per-day totals of the lane's transactions, kept up to date record by record.

    Each record adds to its day on its own (:mod:`contracts.reconcile`), so the
    tally reads only the records stored since its last look, never the day again.
    """

    def __init__(self, reader: StoreReader, tz: ZoneInfo, days: int = 7) -> None:
        self.reader = reader
        self.tz = tz
        self.days = days
        self._seen = 0
        self._book = DayBook(tz)

    def update(self, now: datetime) -> list[DayTotal]:
        """The totals of today and the ``days - 1`` before it (plaza-local), oldest first."""
        since = stored_time(now - timedelta(days=self.days + 1), "since")
        rows = self.reader.conn.execute(
            'SELECT lane_seq, recorded_at, status, payment_status, fee_total, "references", '
            "currency FROM transactions WHERE lane_id = ? AND lane_seq > ? AND recorded_at >= ? "
            "ORDER BY lane_seq",
            (self.reader.lane_id, self._seen, since),
        ).fetchall()
        for seq, at, status, payment, total, refs, currency in rows:
            self._seen = seq
            self._book.add(
                _Row(
                    loaded_time(at),
                    TxnStatus(status),
                    PaymentStatus(payment),
                    total,
                    refs,
                    currency,
                )
            )
        self._book.forget_before(plaza_day(now, self.tz) - timedelta(days=self.days - 1))
        return self._book.totals()
