"""Lanes' answers to commands: one row per answer, so a supervisor sees what was done.

A command (``{plaza}/{lane}/cmd``) is answered on ``cmd/result`` with its id, whether
the lane carried it out, why not when it refused, and the lane's status after it.
The answering lane comes from the topic (a lane cannot answer for another). QoS 1
may deliver an answer twice: the second is dropped on ``(lane_id, command_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from central.storage.engine import upsert
from central.storage.schema import command_results
from central.storage.times import utc_out
from contracts.commands import CommandResult


@dataclass(frozen=True)
class StoredResult:
    plaza_id: str
    lane_id: str
    command_id: str | None
    ok: bool
    error: str | None
    lane: dict[str, Any]
    received_at: datetime


def note_result(
    connection: Connection,
    plaza_id: str,
    lane_id: str,
    result: CommandResult,
    received_at: datetime,
) -> bool:
    """Keep ``lane_id``'s answer; False when the same answer was kept already."""
    insert = upsert(connection, command_results)
    kept = connection.execute(
        insert.values(
            plaza_id=plaza_id,
            lane_id=lane_id,
            command_id=result.command_id,
            ok=result.ok,
            error=result.error,
            lane=dict(result.lane),
            received_at=received_at,
        )
        .on_conflict_do_nothing(
            index_elements=[command_results.c.lane_id, command_results.c.command_id]
        )
        .returning(command_results.c.id)
    ).first()
    return kept is not None


def results(connection: Connection, lane_id: str | None = None) -> list[StoredResult]:
    """Answers kept, oldest first, optionally of one lane."""
    query = select(command_results).order_by(command_results.c.id)
    if lane_id is not None:
        query = query.where(command_results.c.lane_id == lane_id)
    return [
        StoredResult(
            plaza_id=row["plaza_id"],
            lane_id=row["lane_id"],
            command_id=row["command_id"],
            ok=bool(row["ok"]),
            error=row["error"],
            lane=dict(row["lane"]),
            received_at=utc_out(row["received_at"]),
        )
        for row in connection.execute(query).mappings()
    ]
