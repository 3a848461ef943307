"""Alarms from a stored batch: what the lane's events and transactions say.

- ``tailgate`` and ``barrier_forced`` are incidents: one alarm per event (subject
  ``event:SEQ``), never reopened by a resend, closed by a supervisor.
- ``barrier_fault`` is a condition: it stands while the lane's latest barrier
  event (by lane_seq) is a fault (``barrier_fault``, ``paid_barrier_fault``) and is
  resolved by ``barrier_recovered``.
- ``loop_stuck`` stands from the lane's ``loop_stuck`` event until the lane
  records a passage after it (a vehicle went through: the loops work again).
- ``plates_unreadable`` and ``payment_failures``: N events of their kinds by one
  lane within a window (config); the sweep resolves them once the window holds
  fewer (:func:`central.alarms.sweep.Sweeper`).

The state of a condition is read from the store, not from the batch, so that
batches arriving out of order or twice leave the same alarms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from central.alarms.raising import open_incident, resolve
from central.config import AlarmsConfig, RepeatedConfig
from central.storage.alarms import open_alarm
from central.storage.schema import alarms, lane_events, transactions
from central.storage.times import utc_out
from contracts.records.sealed import LaneEventRecord, TransactionRecord
from contracts.records.vocab import TxnStatus

INCIDENTS = frozenset({"tailgate", "barrier_forced"})
BARRIER_FAULTS = frozenset({"barrier_fault", "paid_barrier_fault"})
BARRIER_KINDS = BARRIER_FAULTS | {"barrier_recovered"}
LOOP_STUCK = "loop_stuck"
UNREADABLE = frozenset({"unreadable_plate"})
PAYMENT_FAILURES = frozenset({"payment_failed", "payment_timeout", "gateway_refused"})


@dataclass(frozen=True)
class Repeated:
    """An alarm of ``kind`` when ``rule.count`` events of ``events`` fall in ``rule.window_s``."""

    kind: str
    subject: str
    events: frozenset[str]
    rule: RepeatedConfig

    def count(self, connection: Connection, lane_id: str, end: datetime) -> int:
        """Events of the lane in the window ending at ``end`` (inclusive)."""
        start = end - timedelta(seconds=self.rule.window_s)
        return int(
            connection.execute(
                select(func.count())
                .select_from(lane_events)
                .where(
                    lane_events.c.lane_id == lane_id,
                    lane_events.c.kind.in_(sorted(self.events)),
                    lane_events.c.time > start,
                    lane_events.c.time <= end,
                )
            ).scalar_one()
        )


def repeated_rules(config: AlarmsConfig) -> tuple[Repeated, ...]:
    return (
        Repeated("plates_unreadable", "plates", UNREADABLE, config.unreadable_plates),
        Repeated("payment_failures", "payments", PAYMENT_FAILURES, config.payment_failures),
    )


class EventAlarms:
    """The rules above, run on one stored batch inside the caller's transaction."""

    def __init__(self, config: AlarmsConfig) -> None:
        self.repeated = repeated_rules(config)
        self.kinds = INCIDENTS | BARRIER_KINDS | {LOOP_STUCK}
        for rule in self.repeated:
            self.kinds |= rule.events

    def concern(self, records: Sequence[LaneEventRecord]) -> bool:
        """Whether any of ``records`` is of a kind a rule reads (most batches are not)."""
        return any(record.kind in self.kinds for record in records)

    @staticmethod
    def stuck_since(connection: Connection, lane_id: str) -> datetime | None:
        """The lane time of the loop_stuck alarm standing on the lane, if any."""
        detail = connection.execute(
            select(alarms.c.detail).where(
                alarms.c.kind == LOOP_STUCK,
                alarms.c.lane_id == lane_id,
                alarms.c.subject == "loops",
                alarms.c.state != "resolved",
            )
        ).scalar()
        return None if detail is None else datetime.fromisoformat(detail["time"])

    def on_events(
        self,
        connection: Connection,
        plaza_id: str,
        records: Sequence[LaneEventRecord],
        at: datetime,
    ) -> None:
        lane_id = records[0].lane_id
        for record in records:
            if record.kind in INCIDENTS:
                open_incident(
                    connection,
                    record.kind,
                    plaza_id=plaza_id,
                    lane_id=lane_id,
                    subject=f"event:{record.lane_seq}",
                    detail=_about(record),
                    at=at,
                )
        kinds = {record.kind for record in records}
        if kinds & BARRIER_KINDS:
            self._barrier(connection, plaza_id, lane_id, at)
        stuck = [r for r in records if r.kind == LOOP_STUCK]
        if stuck:
            self._loop_stuck(connection, plaza_id, stuck[-1], at)
        for rule in self.repeated:
            times = [r.time for r in records if r.kind in rule.events]
            if not times:
                continue
            seen = rule.count(connection, lane_id, max(times))
            if seen >= rule.rule.count:
                open_alarm(
                    connection,
                    kind=rule.kind,
                    plaza_id=plaza_id,
                    lane_id=lane_id,
                    subject=rule.subject,
                    severity="alarm",
                    detail={"events": seen, "window_s": rule.rule.window_s, "last": _iso(times)},
                    at=at,
                )

    def on_transactions(
        self,
        connection: Connection,
        lane_id: str,
        records: Sequence[TransactionRecord],
        at: datetime,
        stuck_since: datetime,
    ) -> None:
        """Resolve the lane's loop_stuck (stuck at ``stuck_since``) if a vehicle passed since."""
        if any(r.status == TxnStatus.PASSED and r.recorded_at > stuck_since for r in records):
            resolve(connection, LOOP_STUCK, lane_id=lane_id, subject="loops", at=at)

    @staticmethod
    def _barrier(connection: Connection, plaza_id: str, lane_id: str, at: datetime) -> None:
        latest = connection.execute(
            select(lane_events.c.kind, lane_events.c.lane_seq, lane_events.c.time)
            .where(lane_events.c.lane_id == lane_id, lane_events.c.kind.in_(sorted(BARRIER_KINDS)))
            .order_by(lane_events.c.lane_seq.desc())
            .limit(1)
        ).first()
        if latest is None or latest.kind not in BARRIER_FAULTS:
            resolve(connection, "barrier_fault", lane_id=lane_id, subject="barrier", at=at)
            return
        open_alarm(
            connection,
            kind="barrier_fault",
            plaza_id=plaza_id,
            lane_id=lane_id,
            subject="barrier",
            severity="alarm",
            detail={
                "event": latest.kind,
                "lane_seq": latest.lane_seq,
                "time": utc_out(latest.time).isoformat(),
            },
            at=at,
        )

    @staticmethod
    def _loop_stuck(
        connection: Connection, plaza_id: str, record: LaneEventRecord, at: datetime
    ) -> None:
        passed_since = connection.execute(
            select(transactions.c.lane_seq)
            .where(
                transactions.c.lane_id == record.lane_id,
                transactions.c.status == TxnStatus.PASSED.value,
                transactions.c.recorded_at > record.time,
            )
            .limit(1)
        ).first()
        if passed_since is not None:
            return  # a vehicle has passed since: the loops work again
        open_alarm(
            connection,
            kind=LOOP_STUCK,
            plaza_id=plaza_id,
            lane_id=record.lane_id,
            subject="loops",
            severity="alarm",
            detail=_about(record),
            at=at,
        )


def _iso(times: Sequence[datetime]) -> str:
    return max(times).isoformat()


def _about(record: LaneEventRecord) -> dict[str, object]:
    return {
        "lane_seq": record.lane_seq,
        "time": record.time.isoformat(),
        "txn_id": None if record.txn_id is None else str(record.txn_id),
        **{f"lane_{key}": value for key, value in record.detail.items()},
    }
