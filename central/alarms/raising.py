"""Opening and resolving central's own alarms inside a transaction.

An incident (a tailgate at lane_seq 42) is raised once ever: a resend of the same
record must not reopen an alarm a supervisor already resolved. A condition (the
lane is offline) is opened while it stands and resolved by central when it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from central.storage.alarms import SYSTEM, Severity, change_alarm, open_alarm
from central.storage.schema import alarms


def _lane_is(lane_id: str | None) -> Any:
    return alarms.c.lane_id.is_(None) if lane_id is None else alarms.c.lane_id == lane_id


def open_incident(
    connection: Connection,
    kind: str,
    *,
    plaza_id: str,
    lane_id: str | None,
    subject: str,
    detail: Mapping[str, Any],
    at: datetime,
    severity: Severity = "alarm",
) -> int | None:
    """Open an alarm of ``kind`` on ``subject`` unless one was ever opened; its id or None."""
    seen = connection.execute(
        select(alarms.c.id).where(
            alarms.c.kind == kind, _lane_is(lane_id), alarms.c.subject == subject
        )
    ).first()
    if seen is not None:
        return None
    return open_alarm(
        connection,
        kind=kind,
        plaza_id=plaza_id,
        lane_id=lane_id,
        subject=subject,
        severity=severity,
        detail=detail,
        at=at,
    )


def resolve(
    connection: Connection, kind: str, *, lane_id: str | None, subject: str, at: datetime
) -> int:
    """Resolve the unresolved alarm of ``kind`` on ``subject``, as central; how many."""
    standing = connection.execute(
        select(alarms.c.id).where(
            alarms.c.kind == kind,
            _lane_is(lane_id),
            alarms.c.subject == subject,
            alarms.c.state != "resolved",
        )
    ).scalars()
    ids = list(standing)
    for alarm_id in ids:
        change_alarm(connection, alarm_id, "resolved", SYSTEM, at)
    return len(ids)


def unresolved_subjects(connection: Connection, kind: str) -> list[tuple[str | None, str]]:
    """(lane, subject) of every unresolved alarm of ``kind``."""
    rows = connection.execute(
        select(alarms.c.lane_id, alarms.c.subject).where(
            alarms.c.kind == kind, alarms.c.state != "resolved"
        )
    )
    return [(row.lane_id, row.subject) for row in rows]
