"""The lane store: one SQLite file per lane or per site (several lanes share it).

Appending a record is one durable SQLite transaction that reads the lane's head
(last ``lane_seq`` and hash of the stream), seals the record with the next
``lane_seq`` and the head's hash, inserts it and moves the head. A record is on
disk when :meth:`Store.append_transaction` returns; do not move the barrier or
money before. The sync keeps every record until central's ack covers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from uuid import UUID

from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import GENESIS_HASH, LaneEventRecord, TransactionRecord
from contracts.records.transaction import Transaction
from edge.store.accounts import Accounts
from edge.store.config_versions import ConfigVersions
from edge.store.db import Db
from edge.store.entries import OpenEntries
from edge.store.lists import Lists
from edge.store.plates import check_pseudonym_key, plate_pseudonym
from edge.store.streams import EVENT, STREAMS, TXN, R, Stream, StreamName
from edge.store.tariffs import Tariffs
from edge.store.times import stored_time
from plumbing import log

logger = log.get(__name__)


class DuplicateRecordIdError(Exception):
    """A record id already stored with different content."""


class AckBeyondHeadError(Exception):
    """Central acknowledged a lane_seq this store never wrote."""


@dataclass(frozen=True)
class StreamStatus:
    """Where one stream of one lane stands with central."""

    last_seq: int
    acked_seq: int

    @property
    def pending(self) -> int:
        return self.last_seq - self.acked_seq


@dataclass(frozen=True)
class SyncStatus:
    txn: StreamStatus
    event: StreamStatus


class Store:
    """A lane store. Open with :meth:`open`; close (or use as a context manager)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.lists = Lists(db)
        self.accounts = Accounts(db)
        self.tariffs = Tariffs(db)
        self.config = ConfigVersions(db)
        self.entries = OpenEntries(db)
        self._unlimited_pages: int | None = None

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout_s: float = 5.0) -> Store:
        """Open the store at ``path``, creating it and applying migrations as needed."""
        return cls(Db.open(path, busy_timeout_s=busy_timeout_s))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._db.version

    def limit_size(self, max_bytes: int | None) -> int:
        """Let the file grow to at most ``max_bytes`` (None: only the disk limits it).

        A write that would grow it further raises StoreFullError, as on a full
        disk. The limit never goes below the file's present size (SQLite keeps
        it there). Returns the limit now in force, in bytes.
        """
        with self._db.lock:
            conn = self._db.conn
            if self._unlimited_pages is None:
                self._unlimited_pages = int(conn.execute("PRAGMA max_page_count").fetchone()[0])
            page = int(conn.execute("PRAGMA page_size").fetchone()[0])
            pages = self._unlimited_pages if max_bytes is None else max(1, max_bytes // page)
            pages = min(pages, self._unlimited_pages)
            limit = conn.execute(f"PRAGMA max_page_count = {pages:d}").fetchone()[0]
        return int(limit) * page

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes (a record and the open entry it creates) into one commit."""
        with self._db.write():
            yield

    # -- appending ------------------------------------------------------------

    def append_transaction(self, txn: Transaction) -> TransactionRecord:
        """Seal and durably store ``txn`` as its lane's next record.

        Each decision about a transaction is a new version with the same id. A
        version identical to the latest stored one is not written again: the
        stored record is returned (a retry after an unclear failure is safe).
        """
        return self._append(TXN, txn)

    def append_event(self, event: LaneEvent) -> LaneEventRecord:
        """Seal and durably store ``event`` as its lane's next event.

        Appending the same event again returns the stored one; another event
        under a stored id raises :class:`DuplicateRecordIdError`.
        """
        return self._append(EVENT, event)

    def _append(self, stream: Stream[R], content: Transaction | LaneEvent) -> R:
        with self._db.write() as conn:
            head = conn.execute(
                "SELECT last_seq, last_hash FROM streams WHERE lane_id = ? AND stream = ?",
                (content.lane_id, stream.name),
            ).fetchone()
            last_seq, last_hash = head if head is not None else (0, GENESIS_HASH)
            record, canonical = stream.record.seal(content, last_seq + 1, last_hash)
            row = stream.row_of(canonical)
            latest = conn.execute(stream.select_latest_by_id, (canonical["id"],)).fetchone()
            if latest is not None:
                if stream.content_of(latest) == stream.content_of(row):
                    replayed = stream.record_from_row(latest)
                    logger.info(
                        "record_append_replayed",
                        record_id=canonical["id"],
                        lane_seq=replayed.lane_seq,
                    )
                    return replayed
                if not stream.versioned:
                    raise DuplicateRecordIdError(
                        f"{content.what} {content.id} is already stored with different content"
                    )
            conn.execute(stream.insert, row)
            self._db.head_moved()
            conn.execute(
                "INSERT INTO streams (lane_id, stream, last_seq, last_hash) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (lane_id, stream) DO UPDATE "
                "SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
                (content.lane_id, stream.name, last_seq + 1, canonical["hash"]),
            )
        return record

    # -- reading --------------------------------------------------------------

    def lanes(self) -> list[str]:
        """Every lane with a record or an event in this store."""
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT DISTINCT lane_id FROM streams ORDER BY lane_id"
            ).fetchall()
        return [row[0] for row in rows]

    def transaction(self, txn_id: UUID) -> TransactionRecord | None:
        """The latest version of a transaction."""
        with self._db.lock:
            row = self._db.conn.execute(TXN.select_latest_by_id, (str(txn_id),)).fetchone()
        return None if row is None else TXN.record_from_row(row)

    def transaction_versions(self, txn_id: UUID) -> list[TransactionRecord]:
        """Every version of a transaction, oldest first."""
        with self._db.lock:
            rows = self._db.conn.execute(TXN.select_by_id, (str(txn_id),)).fetchall()
        return [TXN.record_from_row(row) for row in rows]

    def transactions(
        self, lane_id: str, from_seq: int = 1, limit: int = 100
    ) -> list[TransactionRecord]:
        """Up to ``limit`` records of ``lane_id`` from ``from_seq`` on, in order."""
        return self._range(TXN, lane_id, from_seq, limit)

    def events(self, lane_id: str, from_seq: int = 1, limit: int = 100) -> list[LaneEventRecord]:
        return self._range(EVENT, lane_id, from_seq, limit)

    def pending_transactions(self, lane_id: str, limit: int = 100) -> list[TransactionRecord]:
        """The oldest records central has not acknowledged yet."""
        return self._range(TXN, lane_id, self._status(lane_id, "txn").acked_seq + 1, limit)

    def pending_events(self, lane_id: str, limit: int = 100) -> list[LaneEventRecord]:
        return self._range(EVENT, lane_id, self._status(lane_id, "event").acked_seq + 1, limit)

    def _range(self, stream: Stream[R], lane_id: str, from_seq: int, limit: int) -> list[R]:
        with self._db.lock:
            rows = self._db.conn.execute(stream.select_range, (lane_id, from_seq, limit)).fetchall()
        return [stream.record_from_row(row) for row in rows]

    # -- retention ------------------------------------------------------------

    def pseudonymise_plates(self, before: datetime, key: bytes, *, batch: int = 500) -> int:
        """Replace the plate text of records made before ``before`` by its keyed pseudonym.

        Returns the number of records changed. The chain still verifies (see
        :mod:`contracts.records.sealed`). Each ``batch`` of records is its own short write
        transaction, so a lane appending a record never waits behind a long purge.
        Version 1 records cannot be pseudonymised without breaking the chain; they
        are left as they are and counted in the log.
        """
        cutoff = stored_time(before, "before")
        check_pseudonym_key(key)
        text_at = TXN.columns.index("plate_text")
        changed = 0
        while True:
            with self._db.write() as conn:
                rows = conn.execute(
                    f"{TXN.select} WHERE plate_text IS NOT NULL AND recorded_at < ? "
                    "AND record_version >= 2 ORDER BY recorded_at LIMIT ?",
                    (cutoff, batch),
                ).fetchall()
                for row in rows:
                    record = TXN.record_from_row(row)
                    erased = record.pseudonymised(plate_pseudonym(key, row[text_at]))
                    conn.execute(
                        "UPDATE transactions SET plate_text = NULL, plate_nonce = NULL, "
                        "plate_digest = ?, plate_pseudonym = ? WHERE lane_id = ? AND lane_seq = ?",
                        (
                            erased.plate_digest,
                            erased.plate_pseudonym,
                            record.lane_id,
                            record.lane_seq,
                        ),
                    )
            changed += len(rows)
            if len(rows) < batch:
                break
        with self._db.lock:
            legacy = self._db.conn.execute(
                "SELECT count(*) FROM transactions WHERE plate_text IS NOT NULL "
                "AND recorded_at < ? AND record_version < 2",
                (cutoff,),
            ).fetchone()[0]
        logger.info("plates_pseudonymised", records=changed, before=cutoff, version_1_kept=legacy)
        return changed

    # -- sync bookkeeping -----------------------------------------------------

    def ack(self, lane_id: str, stream: StreamName, seq: int) -> int:
        """Record central's ack (highest contiguous lane_seq stored); returns the acked seq.

        Acks only move forward: an older ack (a late duplicate) changes nothing.
        """
        if stream not in STREAMS:
            raise ValueError(f"stream: unknown stream {stream!r} (known: {', '.join(STREAMS)})")
        with self._db.write() as conn:
            status = self._status(lane_id, stream)
            if seq > status.last_seq:
                raise AckBeyondHeadError(
                    f"lane {lane_id} {stream}: ack of lane_seq {seq}, "
                    f"but the last stored is {status.last_seq}"
                )
            if seq <= status.acked_seq:
                return status.acked_seq
            conn.execute(
                "UPDATE streams SET acked_seq = ? WHERE lane_id = ? AND stream = ?",
                (seq, lane_id, stream),
            )
            self._db.head_moved()
        return seq

    def sync_status(self, lane_id: str) -> SyncStatus:
        with self._db.lock:
            return SyncStatus(
                txn=self._status(lane_id, "txn"), event=self._status(lane_id, "event")
            )

    def _status(self, lane_id: str, stream: StreamName) -> StreamStatus:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT last_seq, acked_seq FROM streams WHERE lane_id = ? AND stream = ?",
                (lane_id, stream),
            ).fetchone()
        return StreamStatus(0, 0) if row is None else StreamStatus(row[0], row[1])
