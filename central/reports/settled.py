"""The settled transaction versions of a plaza-local day, read from central's store.

Reports and reconciliation count what the lanes count, with the one rule of
:mod:`contracts.reconcile`: SQL (SQLAlchemy Core, the same on SQLite and
PostgreSQL) narrows the rows to final versions recorded around the day, and
:func:`contracts.reconcile.contribution` decides what each adds. The day and hour
are taken in the plaza's zone in Python (:mod:`zoneinfo`), because SQLite has no
time zones and a plaza's day is not a UTC day; the SQL window is widened by the
largest UTC offsets so that every plaza's day falls inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from central.storage.schema import transactions
from central.storage.times import utc_out
from contracts.records.vocab import FINAL_STATUSES, PaymentStatus, TxnStatus

ZoneOf = Callable[[str], ZoneInfo]
WIDEST_OFFSET = timedelta(hours=14)
"""No zone is further than this from UTC (UTC-12 .. UTC+14)."""


@dataclass(frozen=True)
class Settled:
    """One stored transaction version, with the fields the counting rule reads."""

    plaza_id: str
    lane_id: str
    recorded_at: datetime
    status: TxnStatus
    payment_status: PaymentStatus
    fee_total: int | None
    references: UUID | None
    currency: str | None
    vehicle_class: int | None
    payment_method: str | None


def day_window(day: date) -> tuple[datetime, datetime]:
    """A UTC window holding plaza-local ``day`` of every zone."""
    start = datetime.combine(day, time(), UTC) - WIDEST_OFFSET
    end = datetime.combine(day + timedelta(days=1), time(), UTC) + WIDEST_OFFSET
    return start, end


def settled_between(
    connection: Connection,
    start: datetime,
    end: datetime,
    *,
    plaza_id: str | None = None,
    lane_id: str | None = None,
) -> Iterator[Settled]:
    """Final versions recorded in ``[start, end)`` (of one plaza or lane), in lane order."""
    t = transactions.c
    query = select(
        t.plaza_id,
        t.lane_id,
        t.recorded_at,
        t.status,
        t.payment_status,
        t.fee_total,
        t.references_id,
        t.currency,
        t.vehicle_class,
        t.payment_method,
    ).where(
        t.recorded_at >= start.astimezone(UTC),
        t.recorded_at < end.astimezone(UTC),
        t.status.in_([str(s) for s in FINAL_STATUSES]),
    )
    if plaza_id is not None:
        query = query.where(t.plaza_id == plaza_id)
    if lane_id is not None:
        query = query.where(t.lane_id == lane_id)
    for row in connection.execute(query.order_by(t.lane_id, t.lane_seq)):
        yield Settled(
            plaza_id=row.plaza_id,
            lane_id=row.lane_id,
            recorded_at=utc_out(row.recorded_at),
            status=TxnStatus(row.status),
            payment_status=PaymentStatus(row.payment_status),
            fee_total=row.fee_total,
            references=row.references_id,
            currency=row.currency,
            vehicle_class=row.vehicle_class,
            payment_method=row.payment_method,
        )


def settled_on(
    connection: Connection,
    day: date,
    zone_of: ZoneOf,
    *,
    lane_id: str | None = None,
    recorded_until: datetime | None = None,
) -> Iterator[Settled]:
    """Final versions recorded on ``day`` in their plaza's zone (of one lane, up to a time)."""
    start, end = day_window(day)
    if recorded_until is not None:
        end = min(end, recorded_until + timedelta(microseconds=1))
    for record in settled_between(connection, start, end, lane_id=lane_id):
        if record.recorded_at.astimezone(zone_of(record.plaza_id)).date() == day:
            yield record
