"""How long a time-based condition has lasted: kept in the database, not in a process.

A gap that resends do not fill becomes an alarm after ``gap_after_s``, a
reconciliation difference after the grace period. When each began is a row here
(rule, lane, subject), written by the sweep inside its transaction, so a central
that restarts, or another central process that sweeps next, goes on from the same
start instead of counting from zero again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, tuple_

from central.storage.engine import upsert
from central.storage.schema import alarm_timers, stream_acks
from central.storage.times import utc_in, utc_out

Key = tuple[str, str]
"""lane_id and subject."""
GAP = "gap_unfilled"
"""The rule (and alarm kind) of a gap in a lane's stream."""


def gap_subject(stream: str) -> str:
    return f"{stream}:gap"


@dataclass(frozen=True)
class Timer:
    since: datetime
    mark: int | None = None


def timers(connection: Connection, rule: str) -> dict[Key, Timer]:
    """Every running timer of ``rule``."""
    rows = connection.execute(select(alarm_timers).where(alarm_timers.c.rule == rule)).mappings()
    return {
        (row["lane_id"], row["subject"]): Timer(
            utc_out(row["since"]), None if row["mark"] is None else int(row["mark"])
        )
        for row in rows
    }


def start(connection: Connection, rule: str, key: Key, timer: Timer) -> None:
    """Run ``key``'s timer from ``timer.since`` (replacing one that ran before)."""
    insert = upsert(connection, alarm_timers)
    since = utc_in(timer.since, "since")
    connection.execute(
        insert.values(
            rule=rule, lane_id=key[0], subject=key[1], since=since, mark=timer.mark
        ).on_conflict_do_update(
            index_elements=[alarm_timers.c.rule, alarm_timers.c.lane_id, alarm_timers.c.subject],
            set_={"since": since, "mark": timer.mark},
        )
    )


def stop(connection: Connection, rule: str, keys: Iterable[Key]) -> None:
    """The conditions of ``keys`` are over."""
    keys = list(keys)
    if keys:
        connection.execute(
            delete(alarm_timers).where(
                alarm_timers.c.rule == rule,
                tuple_(alarm_timers.c.lane_id, alarm_timers.c.subject).in_(keys),
            )
        )


@dataclass(frozen=True)
class OpenGap:
    """A lane's stream with records held beyond its ack, and since when (if swept yet)."""

    plaza_id: str
    lane_id: str
    stream: str
    acked_seq: int
    held_max: int
    since: datetime | None


def open_gaps(connection: Connection) -> list[OpenGap]:
    """Every stream with a gap now, with the time its gap timer started (None: not swept)."""
    running = timers(connection, GAP)
    rows = connection.execute(
        select(stream_acks).where(stream_acks.c.held_max > stream_acks.c.acked_seq)
    ).mappings()
    found = []
    for row in rows:
        timer = running.get((row["lane_id"], gap_subject(row["stream"])))
        acked = int(row["acked_seq"])
        found.append(
            OpenGap(
                row["plaza_id"],
                row["lane_id"],
                row["stream"],
                acked,
                int(row["held_max"]),
                timer.since if timer is not None and timer.mark == acked else None,
            )
        )
    return found
