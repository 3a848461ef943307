"""The alarms table's writes: open (once per subject), acknowledge, resolve, and who did it.

An alarm is about a ``subject`` of a lane (``txn:42`` for a break at lane_seq 42 of
the transaction stream, ``lane`` for the lane as a whole); while one alarm of a
kind and subject is unresolved, opening it again returns that one, so a check that
runs every minute does not pile up copies. States only move forward:
open → acknowledged → resolved, or open → resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, insert, select, update

from central.storage.schema import alarms
from central.storage.times import utc_in, utc_out

AlarmState = Literal["open", "acknowledged", "resolved"]
Severity = Literal["warning", "alarm"]
SYSTEM = "central"
"""``changed_by`` of what central itself opens or resolves."""
_NEXT: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "resolved"}),
    "acknowledged": frozenset({"resolved"}),
    "resolved": frozenset(),
}


class AlarmError(ValueError):
    """An alarm that does not exist, or a change its state does not allow."""


@dataclass(frozen=True)
class Alarm:
    id: int
    kind: str
    plaza_id: str | None
    lane_id: str | None
    subject: str
    severity: str
    state: str
    opened_at: datetime
    changed_at: datetime
    changed_by: str
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: RowMapping) -> Alarm:
        values = dict(row)
        for name in ("opened_at", "changed_at"):
            values[name] = utc_out(values[name])
        return cls(**values)


def open_alarm(
    connection: Connection,
    *,
    kind: str,
    plaza_id: str | None,
    lane_id: str | None,
    subject: str,
    severity: Severity,
    detail: Mapping[str, Any],
    at: datetime,
) -> int:
    """The id of the unresolved alarm of ``kind`` on ``subject``, opened now if there is none."""
    standing = connection.execute(
        select(alarms.c.id).where(
            alarms.c.kind == kind,
            alarms.c.lane_id.is_(None) if lane_id is None else alarms.c.lane_id == lane_id,
            alarms.c.subject == subject,
            alarms.c.state != "resolved",
        )
    ).scalar()
    if standing is not None:
        return int(standing)
    at = utc_in(at, "at")
    new_id = connection.execute(
        insert(alarms)
        .values(
            kind=kind,
            plaza_id=plaza_id,
            lane_id=lane_id,
            subject=subject,
            severity=severity,
            state="open",
            opened_at=at,
            changed_at=at,
            changed_by=SYSTEM,
            detail=dict(detail),
        )
        .returning(alarms.c.id)
    ).scalar_one()
    return int(new_id)


def change_alarm(
    connection: Connection, alarm_id: int, state: AlarmState, by: str, at: datetime
) -> Alarm:
    """Move an alarm to ``state``, recording ``by`` and ``at``; AlarmError when not allowed."""
    row = (
        connection.execute(select(alarms).where(alarms.c.id == alarm_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise AlarmError(f"alarm {alarm_id}: no such alarm")
    if state not in _NEXT:
        raise AlarmError(f"state: {state!r} is not one of {', '.join(_NEXT)}")
    if state not in _NEXT[row["state"]]:
        raise AlarmError(f"alarm {alarm_id}: cannot go from {row['state']} to {state}")
    if not by:
        raise AlarmError("by: who changes the alarm must be named")
    connection.execute(
        update(alarms)
        .where(alarms.c.id == alarm_id)
        .values(state=state, changed_by=by, changed_at=utc_in(at, "at"))
    )
    changed = connection.execute(select(alarms).where(alarms.c.id == alarm_id)).mappings().one()
    return Alarm.from_row(changed)
