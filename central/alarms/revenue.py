"""Unusual revenue for the hour: the last complete plaza-local hour against the same
weekday-hour of the previous weeks.

The rule (``[alarms.revenue]``): take the hour's revenue R (the lanes' counting
rule, :func:`contracts.reconcile.contribution`), and the revenues of the same
wall-clock hour on the same weekday of the previous ``weeks`` weeks. Only the weeks
with traffic in that hour are history; with fewer than ``min_weeks`` of them, or a
median M that is not positive, nothing is judged. Otherwise R is unusual when
``R > factor × M`` or ``R < M / factor``: an alarm ``revenue_unusual`` of the plaza
(subject ``PLAZA:HOUR``), with R, M and the weeks in its detail. Records arriving
late (a backlog draining) can bring the hour back in line: unresolved alarms are
judged again at each sweep and resolved when their hour is no longer unusual.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from central.alarms.raising import resolve, unresolved_subjects
from central.config import RevenueConfig
from central.reports.settled import settled_between
from central.storage.alarms import open_alarm
from central.storage.schema import lanes
from contracts.reconcile import contribution

KIND = "revenue_unusual"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Judged:
    revenue: int
    median: float
    history: tuple[int, ...]

    def unusual(self, factor: float) -> bool:
        return self.revenue > factor * self.median or self.revenue < self.median / factor


def last_complete_hour(now: datetime, tz: ZoneInfo) -> datetime:
    """The start (aware, plaza zone) of the last plaza-local hour that has ended."""
    current = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    return (current.astimezone(UTC) - HOUR).astimezone(tz)


def same_hour_weeks_before(start: datetime, weeks: int, tz: ZoneInfo) -> list[datetime]:
    """The same wall-clock hour on the same weekday of each of ``weeks`` weeks before."""
    wall = start.replace(tzinfo=None)
    return [(wall - timedelta(weeks=k)).replace(tzinfo=tz) for k in range(1, weeks + 1)]


class HourlyRevenue:
    """The rule above for every plaza that has lanes."""

    def __init__(self, config: RevenueConfig, zone_of: Callable[[str], ZoneInfo]) -> None:
        self.config = config
        self.zone_of = zone_of

    def sweep(self, connection: Connection, now: datetime) -> None:
        plazas = connection.execute(select(lanes.c.plaza_id).distinct()).scalars().all()
        for plaza_id in plazas:
            start = last_complete_hour(now, self.zone_of(plaza_id))
            judged = self.judge(connection, plaza_id, start)
            if judged is not None and judged.unusual(self.config.factor):
                open_alarm(
                    connection,
                    kind=KIND,
                    plaza_id=plaza_id,
                    lane_id=None,
                    subject=f"{plaza_id}:{start.isoformat()}",
                    severity="warning",
                    detail={
                        "hour": start.isoformat(),
                        "revenue": judged.revenue,
                        "median": judged.median,
                        "history": list(judged.history),
                        "factor": self.config.factor,
                    },
                    at=now,
                )
        for _, subject in unresolved_subjects(connection, KIND):
            plaza_id, _, hour = subject.partition(":")
            judged = self.judge(connection, plaza_id, datetime.fromisoformat(hour))
            if judged is None or not judged.unusual(self.config.factor):
                resolve(connection, KIND, lane_id=None, subject=subject, at=now)

    def judge(self, connection: Connection, plaza_id: str, start: datetime) -> Judged | None:
        """The hour at ``start`` against its history; None without enough history."""
        tz = self.zone_of(plaza_id)
        history = []
        for before in same_hour_weeks_before(start, self.config.weeks, tz):
            count, revenue = self.hour(connection, plaza_id, before)
            if count > 0:
                history.append(revenue)
        if len(history) < self.config.min_weeks:
            return None
        median = float(statistics.median(history))
        if median <= 0:
            return None
        _, revenue = self.hour(connection, plaza_id, start)
        return Judged(revenue, median, tuple(history))

    @staticmethod
    def hour(connection: Connection, plaza_id: str, start: datetime) -> tuple[int, int]:
        """Transactions and revenue of the plaza in the hour from ``start``."""
        count = revenue = 0
        begin = start.astimezone(UTC)
        for record in settled_between(connection, begin, begin + HOUR, plaza_id=plaza_id):
            add = contribution(record)
            count += add.transactions
            revenue += add.revenue
        return count, revenue
