"""A plate's open entry, from the stored records: the answer to a remote entry lookup.

The rule is :mod:`contracts.records.entries`: the plate's latest passed entry,
unless a passed exit names it (``entry_txn_id``) or has the same plate key and
left at or after its entry time. Two index reads (migration 0006): the latest
entry by ``(plate_key, kind, status)``, then one closing exit by
``entry_txn_id`` or by the same plate key.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, or_, select

from central.storage.schema import transactions
from central.storage.times import utc_out
from contracts.mqtt.payloads import StoredEntry
from contracts.plates import plate_key
from contracts.records.entries import CLOSES, OPENS

t = transactions


def open_entry(connection: Connection, plate: str) -> StoredEntry | None:
    """The open entry of ``plate`` (any separators) across every plaza stored; None if none."""
    key = plate_key(plate)
    latest = connection.execute(
        select(t.c.txn_id, t.c.plaza_id, t.c.lane_id, t.c.entry_time, t.c.vehicle_class)
        .where(
            t.c.plate_key == key,
            t.c.kind == OPENS[0].value,
            t.c.status == OPENS[1].value,
            t.c.entry_time.is_not(None),
        )
        .order_by(t.c.entry_time.desc(), t.c.recorded_at.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    txn_id, plaza_id, lane_id, entry_time, vehicle_class = latest
    entered = utc_out(entry_time)
    closed = connection.execute(
        select(t.c.lane_seq)
        .where(
            t.c.kind == CLOSES[0].value,
            t.c.status == CLOSES[1].value,
            or_(
                t.c.entry_txn_id == txn_id,
                (t.c.plate_key == key) & (func.coalesce(t.c.exit_time, t.c.recorded_at) >= entered),
            ),
        )
        .limit(1)
    ).first()
    if closed is not None:
        return None
    return StoredEntry(
        txn_id=txn_id,
        plaza_id=plaza_id,
        lane_id=lane_id,
        entry_time=entered,
        vehicle_class=vehicle_class,
    )
