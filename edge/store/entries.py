"""Open entries: vehicles that entered and have not exited yet.

An entry record opens one (keyed by plate, site-wide: an entry at one lane is
closed at another lane's exit); the exit closes it and gets the entry time back.
A plate that already has an open entry cannot open another (anti-passback); the
lane decides what to do and, to let it in anyway, closes the old one first.
Open and close inside ``Store.batch()`` with the record that causes them, so both
commit together. :meth:`OpenEntries.apply` is the rule of
:mod:`contracts.records.entries` on one record, for the lane's own records and for
the records of the site's other lanes that central replicates to it
(:mod:`edge.sync.entries`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from contracts.records.entries import CLOSES, opens_entry
from contracts.records.sealed import TransactionRecord
from edge.store.db import Db
from edge.store.plates import plate_key
from edge.store.times import loaded_time, stored_time


@dataclass(frozen=True)
class OpenEntryRow:
    """A row of the store's open entries; the lane machine is given one as
    ``edge.lane.records.OpenEntry``."""

    plate: str
    txn_id: UUID
    lane_id: str
    entry_time: datetime
    vehicle_class: int | None


class EntryAlreadyOpenError(Exception):
    """The plate already has an open entry (``existing``)."""

    def __init__(self, existing: OpenEntryRow) -> None:
        self.existing = existing
        super().__init__(
            f"plate {existing.plate} already entered at {existing.entry_time.isoformat()} "
            f"on lane {existing.lane_id} (transaction {existing.txn_id})"
        )


@dataclass(frozen=True)
class Applied:
    """What a record did: ``opened`` (``replaced`` the plate's older entry, if any),
    ``closed`` (``replaced`` is the entry closed) or ``none``."""

    change: Literal["opened", "closed", "none"]
    replaced: OpenEntryRow | None = None


class OpenEntries:
    def __init__(self, db: Db) -> None:
        self._db = db

    def open(self, record: TransactionRecord) -> OpenEntryRow:
        """Open the entry of a stored entry record that has a plate."""
        if record.kind != "entry" or record.plate_text is None or record.entry_time is None:
            raise ValueError(
                f"transaction {record.id}: only an entry record with a plate opens an entry"
            )
        entry = OpenEntryRow(
            plate_key(record.plate_text),
            record.id,
            record.lane_id,
            record.entry_time,
            record.vehicle_class,
        )
        with self._db.write() as conn:
            existing = self._find(entry.plate)
            if existing is not None:
                raise EntryAlreadyOpenError(existing)
            conn.execute(
                "INSERT INTO open_entries (plate, txn_id, lane_id, entry_time, vehicle_class) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    entry.plate,
                    str(entry.txn_id),
                    entry.lane_id,
                    stored_time(entry.entry_time, "entry_time"),
                    entry.vehicle_class,
                ),
            )
        return entry

    def apply(self, record: TransactionRecord) -> Applied:
        """What ``record`` does to the open entries, by the rule of contracts.records.entries.

        A passed entry opens the plate's entry (an older one of the plate is replaced:
        the vehicle was let in again; the same entry again changes nothing); a passed
        exit closes the entry it names, else the plate's. Anything else does nothing.
        """
        if opens_entry(record):
            with self._db.write():
                existing = self.find(record.plate_text or "")
                if existing is not None and existing.txn_id == record.id:
                    return Applied("none")
                if existing is not None:
                    self.close(existing.plate)
                self.open(record)
            return Applied("opened", existing)
        if (record.kind, record.status) != CLOSES:
            return Applied("none")
        if record.entry_txn_id is not None:
            closed = self.close_entry(record.entry_txn_id)  # the entry it was matched to
        elif record.plate_text is not None:
            closed = self.close(record.plate_text)
        else:
            closed = None
        return Applied("closed" if closed is not None else "none", closed)

    def find(self, plate: str) -> OpenEntryRow | None:
        with self._db.lock:
            return self._find(plate_key(plate))

    def close(self, plate: str) -> OpenEntryRow | None:
        """Close the plate's open entry and return it; None when it had none."""
        key = plate_key(plate)
        with self._db.write() as conn:
            entry = self._find(key)
            if entry is not None:
                conn.execute("DELETE FROM open_entries WHERE plate = ?", (key,))
        return entry

    def close_entry(self, txn_id: UUID) -> OpenEntryRow | None:
        """Close the open entry recorded by ``txn_id`` (an exit matched to it); None if none."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT plate FROM open_entries WHERE txn_id = ?", (str(txn_id),)
            ).fetchone()
            entry = self._find(row[0]) if row is not None else None
            if entry is not None:
                conn.execute("DELETE FROM open_entries WHERE txn_id = ?", (str(txn_id),))
        return entry

    def plates(self) -> list[str]:
        """The plates of every open entry (for matching a plate that is not exactly one)."""
        with self._db.lock:
            rows = self._db.conn.execute("SELECT plate FROM open_entries").fetchall()
        return [row[0] for row in rows]

    def count(self) -> int:
        with self._db.lock:
            count: int = self._db.conn.execute("SELECT count(*) FROM open_entries").fetchone()[0]
        return count

    def _find(self, key: str) -> OpenEntryRow | None:
        row = self._db.conn.execute(
            "SELECT plate, txn_id, lane_id, entry_time, vehicle_class FROM open_entries "
            "WHERE plate = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return OpenEntryRow(row[0], UUID(row[1]), row[2], loaded_time(row[3]), row[4])
