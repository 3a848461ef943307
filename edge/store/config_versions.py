"""Configuration bundles a lane applied, and the tariff and network it prices with.

A bundle from central (:class:`contracts.mqtt.payloads.ConfigBundle`) comes on one of
two config topics, its *scope*: the plaza's or the network's. Each scope has its own
version sequence (both are retained, so a lane that connects gets both, in either
order); the version in force for a lane and scope is the highest it applied. The whole
bundle is kept as its JSON document (the last :data:`KEEP` of each lane and scope), so
that what a lane applied can be read back from its store.

``lane_config`` holds the tariff and network documents the lane prices with after the
bundles it applied, so that a restart without the network uses them, not the files
(which only give the lane its first configuration).

Every write joins the caller's transaction when there is one (``Store.batch``): a
bundle's lists, accounts, tariff versions, its row here and its lane event commit
together or not at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from edge.store.db import Db
from edge.store.times import loaded_time, stored_time

KEEP = 5
"""Bundles kept per lane and scope; older ones are deleted when a new one is applied."""


class StaleConfigError(Exception):
    """A bundle whose version is not newer than the one in force for its lane and scope."""


@dataclass(frozen=True)
class AppliedBundle:
    lane_id: str
    scope: str
    version: int
    issued_at: datetime
    applied_at: datetime
    digest: str
    """SHA-256 of the document, hex: tells a replay of the same bundle from a new one."""


@dataclass(frozen=True)
class PricingDocuments:
    """The tariff and network (JSON) a lane prices with; None: its files' own."""

    tariff: str | None = None
    network: str | None = None


def digest_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


_SELECT = "SELECT lane_id, scope, version, issued_at, applied_at, digest FROM config_bundles"


class ConfigVersions:
    def __init__(self, db: Db) -> None:
        self._db = db

    def record(
        self,
        lane_id: str,
        scope: str,
        *,
        version: int,
        issued_at: datetime,
        applied_at: datetime,
        document: str,
    ) -> AppliedBundle:
        """Keep an applied bundle as the lane's version in force for ``scope``."""
        applied = AppliedBundle(
            lane_id,
            scope,
            version,
            loaded_time(stored_time(issued_at, "issued_at")),
            loaded_time(stored_time(applied_at, "applied_at")),
            digest_of(document),
        )
        with self._db.write() as conn:
            current = self.in_force(lane_id, scope)
            if current is not None and version <= current.version:
                raise StaleConfigError(
                    f"{scope}: version {version} is not newer than version {current.version} "
                    f"in force on lane {lane_id}"
                )
            conn.execute(
                "INSERT INTO config_bundles (lane_id, scope, version, issued_at, applied_at, "
                "digest, document) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    lane_id,
                    scope,
                    version,
                    stored_time(issued_at, "issued_at"),
                    stored_time(applied_at, "applied_at"),
                    applied.digest,
                    document,
                ),
            )
            conn.execute(
                "DELETE FROM config_bundles WHERE lane_id = ? AND scope = ? AND version NOT IN "
                "(SELECT version FROM config_bundles WHERE lane_id = ? AND scope = ? "
                "ORDER BY version DESC LIMIT ?)",
                (lane_id, scope, lane_id, scope, KEEP),
            )
        return applied

    def in_force(self, lane_id: str, scope: str) -> AppliedBundle | None:
        """The newest bundle the lane applied on ``scope``; None before the first."""
        found = self._select(
            "lane_id = ? AND scope = ? ORDER BY version DESC LIMIT 1", (lane_id, scope)
        )
        return found[0] if found else None

    def history(self, lane_id: str, scope: str) -> list[AppliedBundle]:
        """The bundles kept for the lane and scope, oldest first."""
        return self._select("lane_id = ? AND scope = ? ORDER BY version", (lane_id, scope))

    def document(self, lane_id: str, scope: str, version: int) -> str | None:
        """The JSON of an applied bundle, while it is kept."""
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT document FROM config_bundles WHERE lane_id = ? AND scope = ? "
                "AND version = ?",
                (lane_id, scope, version),
            ).fetchone()
        return None if row is None else str(row[0])

    def applied_by_another(self, lane_id: str, scope: str, version: int, digest: str) -> bool:
        """Whether another lane of this store already applied this very bundle.

        Lanes of one site share the store's lists and accounts: the second lane to
        apply a bundle must not set the balances again (the first lane's debits since
        would be lost).
        """
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT 1 FROM config_bundles WHERE lane_id != ? AND scope = ? AND version = ? "
                "AND digest = ? LIMIT 1",
                (lane_id, scope, version, digest),
            ).fetchone()
        return row is not None

    def pricing(self, lane_id: str) -> PricingDocuments:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT tariff, network FROM lane_config WHERE lane_id = ?", (lane_id,)
            ).fetchone()
        return PricingDocuments() if row is None else PricingDocuments(row[0], row[1])

    def set_pricing(self, lane_id: str, pricing: PricingDocuments) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO lane_config (lane_id, tariff, network) VALUES (?, ?, ?) "
                "ON CONFLICT (lane_id) DO UPDATE "
                "SET tariff = excluded.tariff, network = excluded.network",
                (lane_id, pricing.tariff, pricing.network),
            )

    def _select(self, where: str, args: tuple[str, ...]) -> list[AppliedBundle]:
        with self._db.lock:
            rows = self._db.conn.execute(f"{_SELECT} WHERE {where}", args).fetchall()
        return [
            AppliedBundle(row[0], row[1], row[2], loaded_time(row[3]), loaded_time(row[4]), row[5])
            for row in rows
        ]
