"""Reconciliation: each lane's reported day totals against what central stored.

The lane reports, per plaza-local day, its count and revenue at the time of its
telemetry (``day_totals.reported_at``, the lane's clock); central counts the
records it holds of that lane and day recorded up to that time, with the same
rule (:class:`contracts.reconcile.DayBook`) in the plaza's zone from central's
config. Records still in flight make a difference for a moment, so a difference
is an alarm (``reconcile_mismatch``, both figures in its detail) only once it has
lasted the grace period; it is resolved when the figures agree again. How long a
difference has lasted is kept in memory: a restarted central waits one grace
period again before raising it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from central.alarms.raising import resolve
from central.reports.settled import settled_on
from central.storage.alarms import open_alarm
from central.storage.schema import day_totals
from central.storage.times import utc_out
from contracts.reconcile import DayBook

KIND = "reconcile_mismatch"
RECENT_DAYS = 8
"""Day totals older than this are no longer reported by lanes, and not checked."""


@dataclass(frozen=True)
class Figures:
    transactions: int
    revenue: int


@dataclass
class Reconciler:
    """Compares every recent lane-day at each sweep; remembers when differences began."""

    zone_of: Callable[[str], ZoneInfo]
    grace: timedelta
    _since: dict[tuple[str, date], datetime] = field(default_factory=dict)

    def sweep(self, connection: Connection, now: datetime) -> None:
        rows = connection.execute(
            select(day_totals).where(day_totals.c.received_at >= now - timedelta(RECENT_DAYS))
        ).mappings()
        for row in list(rows):
            lane_id, day = row["lane_id"], row["day"]
            reported = Figures(int(row["transactions"]), int(row["revenue"]))
            stored = self.stored(
                connection, row["plaza_id"], lane_id, day, utc_out(row["reported_at"])
            )
            key = (lane_id, day)
            subject = f"day:{day.isoformat()}"
            if stored == reported:
                self._since.pop(key, None)
                resolve(connection, KIND, lane_id=lane_id, subject=subject, at=now)
                continue
            since = self._since.setdefault(key, now)
            if now - since < self.grace:
                continue
            open_alarm(
                connection,
                kind=KIND,
                plaza_id=row["plaza_id"],
                lane_id=lane_id,
                subject=subject,
                severity="alarm",
                detail={
                    "day": day.isoformat(),
                    "lane_transactions": reported.transactions,
                    "lane_revenue": reported.revenue,
                    "central_transactions": stored.transactions,
                    "central_revenue": stored.revenue,
                    "currency": row["currency"],
                    "reported_at": utc_out(row["reported_at"]).isoformat(),
                    "since": since.isoformat(),
                },
                at=now,
            )

    def stored(
        self, connection: Connection, plaza_id: str, lane_id: str, day: date, until: datetime
    ) -> Figures:
        """Central's count of ``lane_id``'s ``day``, of records recorded up to ``until``."""
        book = DayBook(self.zone_of(plaza_id))
        for record in settled_on(
            connection, day, self.zone_of, lane_id=lane_id, recorded_until=until
        ):
            book.add(record)
        for total in book.totals():
            if total.day == day:
                return Figures(total.transactions, total.revenue)
        return Figures(0, 0)
