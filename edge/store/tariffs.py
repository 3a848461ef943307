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
        found = self._select(
            "tariff_id = ? AND effective_from <= ?",
            (tariff_id, stored_time(at, "at")),
            order_by="effective_from DESC, version DESC",
            limit=1,
        )
        return found[0] if found else None

    def versions(self, tariff_id: str) -> list[TariffVersion]:
        return self._select("tariff_id = ?", (tariff_id,), order_by="version")

    def _select(
        self, where: str, args: tuple[str, ...], order_by: str, limit: int | None = None
    ) -> list[TariffVersion]:
        with self._db.lock:
            rows = self._db.utils["tariff_versions"].rows_where(
                where, args, order_by=order_by, limit=limit
            )
            return [
                TariffVersion(
                    row["tariff_id"],
                    row["version"],
                    loaded_time(row["effective_from"]),
                    row["document"],
                )
                for row in rows
            ]
