"""Reconciliation: each lane's reported day totals against what central stored.

The lane reports, per plaza-local day, its count and revenue at the time of its
telemetry (``day_totals.reported_at``, the lane's clock); central counts the
records it holds of that lane and day recorded up to that time, with the same
rule (:class:`contracts.reconcile.DayBook`) in the plaza's zone from central's
config. Records still in flight make a difference for a moment, so a difference
is an alarm (``reconcile_mismatch``, both figures in its detail) only once it has
lasted the grace period; it is resolved when the figures agree again. When a
difference began is kept in the database (:mod:`central.storage.timers`), so a
restarted central, or the next central process to sweep, does not wait a new
grace period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from central.alarms.raising import resolve
from central.reports.settled import settled_on
from central.storage import timers
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


@dataclass(frozen=True)
class Finding:
    """One lane-day: the lane's figures and central's."""

    plaza_id: str
    lane_id: str
    day: date
    reported: Figures
    stored: Figures
    currency: str | None
    reported_at: datetime


@dataclass
class Reconciler:
    """Compares every recent lane-day at each sweep; the store keeps when differences began."""

    zone_of: Callable[[str], ZoneInfo]
    grace: timedelta

    def findings(self, connection: Connection, now: datetime) -> list[Finding]:
        """Every recent lane-day compared (reads only: run it outside the write lock)."""
        rows = connection.execute(
            select(day_totals).where(day_totals.c.received_at >= now - timedelta(RECENT_DAYS))
        ).mappings()
        found = []
        for row in list(rows):
            reported_at = utc_out(row["reported_at"])
            reported = Figures(int(row["transactions"]), int(row["revenue"]))
            stored = self.stored(
                connection, row["plaza_id"], row["lane_id"], row["day"], reported_at
            )
            found.append(
                Finding(
                    row["plaza_id"],
                    row["lane_id"],
                    row["day"],
                    reported,
                    stored,
                    row["currency"],
                    reported_at,
                )
            )
        return found

    def apply(self, connection: Connection, findings: list[Finding], now: datetime) -> None:
        """Open or resolve the alarms the findings call for (inside the write transaction)."""
        running = timers.timers(connection, KIND)
        differing: set[timers.Key] = set()
        for found in findings:
            subject = f"day:{found.day.isoformat()}"
            key = (found.lane_id, subject)
            if found.stored == found.reported:
                resolve(connection, KIND, lane_id=found.lane_id, subject=subject, at=now)
                continue
            differing.add(key)
            if key not in running:
                running[key] = timers.Timer(now)
                timers.start(connection, KIND, key, running[key])
            since = running[key].since
            if now - since < self.grace:
                continue
            open_alarm(
                connection,
                kind=KIND,
                plaza_id=found.plaza_id,
                lane_id=found.lane_id,
                subject=subject,
                severity="alarm",
                detail={
                    "day": found.day.isoformat(),
                    "lane_transactions": found.reported.transactions,
                    "lane_revenue": found.reported.revenue,
                    "central_transactions": found.stored.transactions,
                    "central_revenue": found.stored.revenue,
                    "currency": found.currency,
                    "reported_at": found.reported_at.isoformat(),
                    "since": since.isoformat(),
                },
                at=now,
            )
        timers.stop(connection, KIND, running.keys() - differing)

    def sweep(self, connection: Connection, now: datetime) -> None:
        """Compare and apply on one connection (tests; the sweep splits the two)."""
        self.apply(connection, self.findings(connection, now), now)

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
