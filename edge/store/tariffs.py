"""Tariff versions received from central, kept as their source documents.

The fee engine parses a document; the store only keeps every version and answers
which one is in force at a time (the latest ``effective_from`` not after it).
A version, once stored, never changes: a different document under the same id
and version is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.store.db import Db
from edge.store.times import loaded_time, stored_time


class TariffConflictError(Exception):
    """A different document offered under an already stored tariff id and version."""


@dataclass(frozen=True)
class TariffVersion:
    tariff_id: str
    version: int
    effective_from: datetime
    document: str


class Tariffs:
    def __init__(self, db: Db) -> None:
        self._db = db

    def put(self, tariff: TariffVersion) -> bool:
        """Store a version; False when the identical version was already stored."""
        effective = stored_time(tariff.effective_from, "effective_from")
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT effective_from, document FROM tariff_versions "
                "WHERE tariff_id = ? AND version = ?",
                (tariff.tariff_id, tariff.version),
            ).fetchone()
            if row is not None:
                if tuple(row) != (effective, tariff.document):
                    raise TariffConflictError(
                        f"tariff {tariff.tariff_id} version {tariff.version} is already "
                        "stored with a different effective_from or document"
                    )
                return False
            conn.execute(
                "INSERT INTO tariff_versions (tariff_id, version, effective_from, document) "
                "VALUES (?, ?, ?, ?)",
                (tariff.tariff_id, tariff.version, effective, tariff.document),
            )
        return True

    def in_force(self, tariff_id: str, at: datetime) -> TariffVersion | None:
        """The version in force at ``at``; None when none is effective yet."""
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT tariff_id, version, effective_from, document FROM tariff_versions "
                "WHERE tariff_id = ? AND effective_from <= ? "
                "ORDER BY effective_from DESC, version DESC LIMIT 1",
                (tariff_id, stored_time(at, "at")),
            ).fetchall()
        return _versions(rows)[0] if rows else None

    def versions(self, tariff_id: str) -> list[TariffVersion]:
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT tariff_id, version, effective_from, document FROM tariff_versions "
                "WHERE tariff_id = ? ORDER BY version",
                (tariff_id,),
            ).fetchall()
        return _versions(rows)


def _versions(rows: list[tuple[str, int, str, str]]) -> list[TariffVersion]:
    return [TariffVersion(r[0], r[1], loaded_time(r[2]), r[3]) for r in rows]
