"""Checking a store file: sequence, hash chain and heads of every lane's streams.

For each lane and stream, records are read in ``lane_seq`` order and each must:
follow its predecessor without a gap, parse as a valid record, be stored exactly
as its canonical form (so a re-formatted or re-typed column counts as a change),
carry the previous record's hash as ``prev_hash``, and carry the hash of its own
content. The stream's head (last seq and hash) must match the last record, which
catches records removed from the end. The first break of each lane and stream is
reported. Beside that, every head must reach as far as the store's head file says
it did (:mod:`edge.store.head`), which catches a tail lost with a torn WAL. A chain shows tampering; it cannot stop someone who rewrites every
later record and the head as well: central's copy is the anchor for that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.records.model import RecordError
from contracts.records.sealed import GENESIS_HASH
from edge.store.db import StoreError, check_pages, read_only
from edge.store.head import HeadFileError, head_file, load_head_file, shortfalls
from edge.store.schema import MIGRATIONS, SchemaError, schema_version
from edge.store.streams import STREAMS, Stream


@dataclass(frozen=True)
class Break:
    """The first broken record of one lane's stream."""

    lane_id: str
    stream: str
    lane_seq: int
    problem: str

    def __str__(self) -> str:
        return f"lane {self.lane_id} {self.stream} lane_seq {self.lane_seq}: {self.problem}"


@dataclass
class Report:
    checked: dict[str, int] = field(default_factory=dict)
    """Records checked per stream."""
    lanes: set[str] = field(default_factory=set)
    breaks: list[Break] = field(default_factory=list)
    head_problems: list[str] = field(default_factory=list)
    """Where the store falls short of its head file, or what is wrong with that file."""

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.head_problems


def verify(path: Path | str) -> Report:
    """Verify the store at ``path`` (read-only); raises :class:`StoreError` if unusable."""
    path = Path(path)
    report = Report()
    heads_path = head_file(path)
    try:
        # Read before the snapshot: a daemon appending meanwhile only gets ahead of it.
        written = load_head_file(heads_path)
    except HeadFileError as exc:
        written = []
        report.head_problems.append(f"head file {exc}")
    with read_only(path) as conn:
        # One read transaction: every query sees the same snapshot, so a daemon
        # appending meanwhile cannot make a head look ahead of its records.
        conn.execute("BEGIN")
        _check_usable(conn, path)
        for stream in STREAMS.values():
            report.checked[stream.name] = 0
            for lane_id in _lanes(conn, stream):
                report.lanes.add(lane_id)
                problem = _verify_lane(conn, stream, lane_id, report)
                if problem is not None:
                    report.breaks.append(problem)
        report.head_problems += shortfalls(conn, written, heads_path)
    return report


def _check_usable(conn: sqlite3.Connection, path: Path) -> None:
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: unreadable SQLite database ({exc})") from None
    check_pages(conn, path)
    if version > len(MIGRATIONS):
        raise SchemaError(
            f"{path}: schema version {version} is newer than this lanewarden supports "
            f"(up to {len(MIGRATIONS)}); verify it with a newer release"
        )
    if version < len(MIGRATIONS):
        raise SchemaError(
            f"{path}: schema version {version} is older than this lanewarden's "
            f"({len(MIGRATIONS)}); open it with the lane daemon to migrate it first"
        )


def _lanes(conn: sqlite3.Connection, stream: Stream[Any]) -> list[str]:
    rows = conn.execute(
        f"SELECT lane_id FROM {stream.table} "  # noqa: S608 - a table name constant
        "UNION SELECT lane_id FROM streams WHERE stream = ? ORDER BY lane_id",
        (stream.name,),
    ).fetchall()
    return [row[0] for row in rows]


def _verify_lane(
    conn: sqlite3.Connection, stream: Stream[Any], lane_id: str, report: Report
) -> Break | None:
    def broken(lane_seq: int, problem: str) -> Break:
        return Break(lane_id, stream.name, lane_seq, problem)

    expected = 1
    prev_hash = GENESIS_HASH
    rows: Iterator[tuple[Any, ...]] = conn.execute(
        f"{stream.select} WHERE lane_id = ? AND lane_seq >= 1 ORDER BY lane_seq", (lane_id,)
    )
    for row in rows:
        report.checked[stream.name] += 1
        seq = row[stream.columns.index("lane_seq")]
        if seq != expected:
            return broken(expected, f"seq gap: lane_seq {expected} is missing (next is {seq})")
        try:
            record = stream.record_from_row(row)
        except RecordError as exc:
            return broken(seq, "invalid record: " + "; ".join(exc.problems))
        written = stream.row_of(record.canonical())
        altered = [
            column
            for column, stored, canonical in zip(stream.columns, row, written, strict=True)
            if stored != canonical or type(stored) is not type(canonical)
        ]
        if altered:
            return broken(seq, f"altered: {', '.join(altered)} not as the store writes it")
        if record.prev_hash != prev_hash:
            return broken(seq, f"prev_hash mismatch: not the hash of lane_seq {seq - 1}")
        if record.hash != record.computed_hash():
            return broken(seq, "hash mismatch: the content does not match its hash")
        prev_hash = record.hash
        expected += 1
    last = expected - 1
    misplaced = conn.execute(
        f"SELECT min(lane_seq) FROM {stream.table} "  # noqa: S608 - a table name constant
        "WHERE lane_id = ? AND lane_seq < 1",
        (lane_id,),
    ).fetchone()[0]
    if misplaced is not None:
        return broken(misplaced, "seq out of range: lane_seq starts at 1")
    head = conn.execute(
        "SELECT last_seq, last_hash FROM streams WHERE lane_id = ? AND stream = ?",
        (lane_id, stream.name),
    ).fetchone()
    if head is None:
        return broken(last, "head missing: no row for this lane in the streams table")
    if head[0] > last:
        return broken(last + 1, f"seq gap: lane_seq {last + 1} to {head[0]} (the head) are missing")
    if head[0] < last:
        return broken(head[0] + 1, f"head mismatch: the head says the last is {head[0]}")
    if head[1] != prev_hash:
        return broken(last, "head mismatch: the head's hash is not this record's hash")
    return None
