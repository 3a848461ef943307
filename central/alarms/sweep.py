"""The time-based alarms, checked every ``[alarms] sweep_s``: what silence and age reveal.

- ``lane_offline``: the lane's state says offline, or nothing (state or telemetry)
  was heard from it, for ``offline_after_s``; resolved when it is online and heard.
- ``gap_unfilled``: a gap in a lane's stream (records held beyond the ack) open for
  ``gap_after_s`` (resends did not fill it); resolved when the ack reaches the
  highest record held. When a gap began is kept in the database
  (:mod:`central.storage.timers`), so a restart does not make it younger.
- ``plates_unreadable`` and ``payment_failures`` resolved once their window holds
  fewer events than the threshold.
- reconciliation (:mod:`central.alarms.reconcile`) and the hourly revenue rule
  (:mod:`central.alarms.revenue`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from central.alarms.events import Repeated, repeated_rules
from central.alarms.raising import resolve, unresolved_subjects
from central.alarms.reconcile import Finding, Reconciler
from central.alarms.revenue import HourlyRevenue
from central.config import AlarmsConfig
from central.storage import timers
from central.storage.alarms import open_alarm
from central.storage.schema import lanes, stream_acks
from central.storage.times import utc_out

GAP = timers.GAP


class Sweeper:
    """One sweep: every time-based rule, inside the caller's transaction."""

    def __init__(
        self, config: AlarmsConfig, zone_of: Callable[[str], ZoneInfo], grace: timedelta
    ) -> None:
        self.config = config
        self.repeated = repeated_rules(config)
        self.reconciler = Reconciler(zone_of, grace)
        self.revenue = HourlyRevenue(config.revenue, zone_of)

    def sweep(
        self, connection: Connection, now: datetime, findings: list[Finding] | None = None
    ) -> None:
        """Every rule; reconciliation's ``findings`` read beforehand (else read here)."""
        self.offline(connection, now)
        self.gaps(connection, now)
        for rule in self.repeated:
            self.repeated_ended(connection, rule, now)
        if findings is None:
            findings = self.reconciler.findings(connection, now)
        self.reconciler.apply(connection, findings, now)
        self.revenue.sweep(connection, now)

    def offline(self, connection: Connection, now: datetime) -> None:
        after = timedelta(seconds=self.config.offline_after_s)
        for row in connection.execute(select(lanes)).mappings().all():
            seen = None if row["last_seen"] is None else utc_out(row["last_seen"])
            changed = utc_out(row["online_changed_at"])
            silent = seen is None or now - seen >= after
            said_offline = not row["online"] and now - changed >= after
            if silent or said_offline:
                open_alarm(
                    connection,
                    kind="lane_offline",
                    plaza_id=row["plaza_id"],
                    lane_id=row["lane_id"],
                    subject="lane",
                    severity="alarm",
                    detail={
                        "online": bool(row["online"]),
                        "last_seen": None if seen is None else seen.isoformat(),
                        "reason": "said offline" if said_offline else "not heard",
                    },
                    at=now,
                )
            elif row["online"]:
                resolve(connection, "lane_offline", lane_id=row["lane_id"], subject="lane", at=now)

    def gaps(self, connection: Connection, now: datetime) -> None:
        after = timedelta(seconds=self.config.gap_after_s)
        running = timers.timers(connection, GAP)
        open_now: set[timers.Key] = set()
        for row in connection.execute(select(stream_acks)).mappings().all():
            subject = timers.gap_subject(row["stream"])
            key = (row["lane_id"], subject)
            if row["held_max"] <= row["acked_seq"]:
                resolve(connection, GAP, lane_id=row["lane_id"], subject=subject, at=now)
                continue
            open_now.add(key)
            timer = running.get(key)
            if timer is None or timer.mark != row["acked_seq"]:
                # new, or an earlier gap was filled and this one begins now
                timer = timers.Timer(now, int(row["acked_seq"]))
                timers.start(connection, GAP, key, timer)
            since = timer.since
            if now - since >= after:
                open_alarm(
                    connection,
                    kind=GAP,
                    plaza_id=row["plaza_id"],
                    lane_id=row["lane_id"],
                    subject=subject,
                    severity="alarm",
                    detail={
                        "stream": row["stream"],
                        "from_seq": int(row["acked_seq"]) + 1,
                        "held_max": int(row["held_max"]),
                        "since": since.isoformat(),
                    },
                    at=now,
                )
        timers.stop(connection, GAP, running.keys() - open_now)

    @staticmethod
    def repeated_ended(connection: Connection, rule: Repeated, now: datetime) -> None:
        for lane_id, subject in unresolved_subjects(connection, rule.kind):
            if lane_id is not None and rule.count(connection, lane_id, now) < rule.rule.count:
                resolve(connection, rule.kind, lane_id=lane_id, subject=subject, at=now)
