"""When an entry is open and what closes it: the one rule a lane and central go by.

An entry is *opened* by the ``passed`` version of an ``entry`` transaction with a
plate: the vehicle went through the entry lane (a voided entry backed out and opens
nothing). It is *closed* by the ``passed`` version of an ``exit`` transaction that

- names it (``entry_txn_id``): the exit was matched to it, a confusable plate
  included; or
- has the same plate key (:func:`contracts.plates.plate_key`) and passed at or
  after the entry time: an exit that did not find the entry (central out of reach,
  priced by the tariff's rule for a missing entry) still ended the trip.

A newer entry of the same plate replaces an older one (the entry lane let the
vehicle in again), so a plate has at most one open entry: its latest entry, when
no exit closed it. Exits of other statuses (still paying, voided) close nothing:
the vehicle has not left.
"""

from __future__ import annotations

from datetime import datetime

from contracts.plates import plate_key
from contracts.records.transaction import Transaction
from contracts.records.vocab import TxnKind, TxnStatus

OPENS = (TxnKind.ENTRY, TxnStatus.PASSED)
"""Kind and status of the version that opens an entry."""
CLOSES = (TxnKind.EXIT, TxnStatus.PASSED)
"""Kind and status of the version that closes one."""


def opens_entry(record: Transaction) -> bool:
    """Whether ``record`` is the version that opens an entry."""
    opened = (record.kind, record.status) == OPENS
    return opened and record.plate_text is not None and record.entry_time is not None


def left_at(record: Transaction) -> datetime:
    """When an exit's vehicle left: its exit time, else when the lane recorded it."""
    return record.exit_time or record.recorded_at


def closes_entry(exit_record: Transaction, entry: Transaction) -> bool:
    """Whether ``exit_record`` closes the entry ``entry`` opened."""
    if (exit_record.kind, exit_record.status) != CLOSES or not opens_entry(entry):
        return False
    if exit_record.entry_txn_id is not None and exit_record.entry_txn_id == entry.id:
        return True
    if exit_record.plate_text is None or entry.plate_text is None or entry.entry_time is None:
        return False
    same_plate = plate_key(exit_record.plate_text) == plate_key(entry.plate_text)
    return same_plate and left_at(exit_record) >= entry.entry_time


def changes_entries(record: Transaction) -> bool:
    """Whether ``record`` may open or close an entry (what central replicates to a site)."""
    if opens_entry(record):
        return True
    closing = (record.kind, record.status) == CLOSES
    return closing and (record.plate_text is not None or record.entry_txn_id is not None)


def open_entry(plate: str, records: list[Transaction]) -> Transaction | None:
    """The plate's open entry among ``records`` (any order); None when it has none.

    The reference form of the rule, for tests and small sets: central asks its
    database the same question (``central.storage.entries``).
    """
    key = plate_key(plate)
    entries = [r for r in records if opens_entry(r) and plate_key(r.plate_text or "") == key]
    if not entries:
        return None
    latest = max(entries, key=lambda r: (r.entry_time or r.recorded_at, r.recorded_at))
    if any(closes_entry(r, latest) for r in records):
        return None
    return latest
