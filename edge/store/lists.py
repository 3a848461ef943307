"""Plate lists received from central: permits, whitelist, blacklist.

Each list arrives whole with a version and replaces the stored one in a single
transaction, so a lane never sees half a list. An older version than the stored
one is refused (a stale retained message); the same version again is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from edge.store.db import Db
from edge.store.plates import plate_key
from edge.store.times import optional_loaded_time, optional_stored_time, stored_time

ListName = Literal["permit", "whitelist", "blacklist"]
LIST_NAMES: tuple[ListName, ...] = get_args(ListName)


class StaleListVersionError(Exception):
    """A list older than the stored one was offered."""


@dataclass(frozen=True)
class ListEntry:
    """One plate on a list, optionally valid only from/until a time."""

    plate: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    note: str = ""


def _check_name(name: str) -> ListName:
    for known in LIST_NAMES:
        if name == known:
            return known
    raise ValueError(f"list: unknown list {name!r} (known: {', '.join(LIST_NAMES)})")


class Lists:
    def __init__(self, db: Db) -> None:
        self._db = db

    def replace(self, name: ListName, version: int, entries: Iterable[ListEntry]) -> bool:
        """Store version ``version`` of list ``name``; False when it was already stored."""
        name = _check_name(name)
        rows: dict[str, tuple[str, str, str | None, str | None, str]] = {}
        for entry in entries:
            key = plate_key(entry.plate)
            if key in rows:
                raise ValueError(f"{name}: plate {entry.plate!r} is listed twice")
            valid_from = optional_stored_time(entry.valid_from, f"{name} {key} valid_from")
            valid_until = optional_stored_time(entry.valid_until, f"{name} {key} valid_until")
            rows[key] = (name, key, valid_from, valid_until, entry.note)
        with self._db.write() as conn:
            current = self._version(name)
            if current is not None and version < current:
                raise StaleListVersionError(
                    f"{name}: version {version} is older than the stored version {current}"
                )
            if current == version:
                return False
            conn.execute(
                "INSERT INTO list_versions (list, version) VALUES (?, ?) "
                "ON CONFLICT (list) DO UPDATE SET version = excluded.version",
                (name, version),
            )
            conn.execute("DELETE FROM list_entries WHERE list = ?", (name,))
            conn.executemany(
                "INSERT INTO list_entries (list, plate, valid_from, valid_until, note) "
                "VALUES (?, ?, ?, ?, ?)",
                rows.values(),
            )
        return True

    def version(self, name: ListName) -> int | None:
        with self._db.lock:
            return self._version(_check_name(name))

    def _version(self, name: str) -> int | None:
        row = self._db.conn.execute(
            "SELECT version FROM list_versions WHERE list = ?", (name,)
        ).fetchone()
        return None if row is None else int(row[0])

    def entries(self, name: ListName) -> list[ListEntry]:
        with self._db.lock:
            rows = self._db.utils.query(
                "SELECT plate, valid_from, valid_until, note FROM list_entries "
                "WHERE list = ? ORDER BY plate",
                (_check_name(name),),
            )
            return [
                ListEntry(
                    plate=row["plate"],
                    valid_from=optional_loaded_time(row["valid_from"]),
                    valid_until=optional_loaded_time(row["valid_until"]),
                    note=row["note"],
                )
                for row in rows
            ]

    def lookup(self, plate: str, at: datetime) -> frozenset[ListName]:
        """The lists on which ``plate`` is valid at ``at`` (from inclusive, until exclusive)."""
        when = stored_time(at, "at")
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT list FROM list_entries WHERE plate = ? "
                "AND (valid_from IS NULL OR valid_from <= ?) "
                "AND (valid_until IS NULL OR valid_until > ?)",
                (plate_key(plate), when, when),
            ).fetchall()
        return frozenset(_check_name(row[0]) for row in rows)
