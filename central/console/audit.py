"""The append-only audit log: who did what to which thing, before and after, and why.

There is an :func:`append` and a :func:`entries`; nothing here updates or deletes
a row, and the database refuses it too (the migration's trigger). Write the entry
in the same transaction as the change it records, so that neither exists alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from central.storage.schema import USER_NAME, audit_log
from central.storage.times import utc_in, utc_out

SYSTEM = "central"
_TARGET = 200


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


def append(
    connection: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> int:
    """Record one action; its id. ValueError when who, what or on what is missing."""
    if not actor or not action or not target:
        raise ValueError("audit: actor, action and target must all be given")
    new_id = connection.execute(
        insert(audit_log)
        .values(
            at=utc_in(at, "at"),
            # A login attempt's actor is what was typed: cut, never refused.
            actor=actor[:USER_NAME],
            action=action,
            target=target[:_TARGET],
            before=None if before is None else dict(before),
            after=None if after is None else dict(after),
            reason=reason,
        )
        .returning(audit_log.c.id)
    ).scalar_one()
    return int(new_id)


def entries(
    connection: Connection,
    *,
    target: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """The newest entries (of ``target``, by ``actor`` when given), newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if target is not None:
        query = query.where(audit_log.c.target == target)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    found = []
    for row in connection.execute(query).mappings():
        values = dict(row)
        values["at"] = utc_out(values["at"])
        found.append(AuditEntry(**values))
    return found
