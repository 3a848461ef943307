"""The store's schema, as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. Opening a store
applies the missing ones, each in its own transaction together with its version
bump, so a crash mid-migration leaves the previous version intact. A database
whose version is higher than this code knows was written by a newer lanewarden;
it is refused rather than misread. Migrations are only ever appended.

``PRAGMA application_id`` marks the file as a lanewarden store, so that pointing a
lane at some other SQLite file is an error, not a silent schema merge.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

APPLICATION_ID = 0x4C4E5744  # "LNWD"

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "lane_id",
    "lane_seq",
    "id",
    "record_version",
    "kind",
    "status",
    "authorisation",
    "recorded_at",
    "plate_text",
    "plate_confidence",
    "plate_nonce",
    "plate_digest",
    "plate_pseudonym",
    "vehicle_class",
    "listing",
    "entry_time",
    "exit_time",
    "entry_plaza",
    "entry_txn_id",
    "tariff_id",
    "tariff_version",
    "currency",
    "fee_items",
    "fee_total",
    "payment_method",
    "payment_status",
    "gateway_ref",
    "evidence_image_ids",
    "operator_id",
    "operator_reason",
    "references",
    "flags",
    "prev_hash",
    "hash",
)

EVENT_COLUMNS: tuple[str, ...] = (
    "lane_id",
    "lane_seq",
    "id",
    "record_version",
    "time",
    "kind",
    "severity",
    "txn_id",
    "operator_id",
    "detail",
    "prev_hash",
    "hash",
)

# Version 1. Every record column is its own typed (STRICT) column, so that a change to
# any one of them with the sqlite3 shell changes what `store verify` hashes.
_V1 = """
CREATE TABLE streams (
    lane_id TEXT NOT NULL,
    stream TEXT NOT NULL CHECK (stream IN ('txn', 'event')),
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (lane_id, stream)
) STRICT;

CREATE TABLE transactions (
    lane_id TEXT NOT NULL,
    lane_seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    record_version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    authorisation TEXT,
    recorded_at TEXT NOT NULL,
    plate_text TEXT,
    plate_confidence REAL,
    vehicle_class INTEGER,
    listing TEXT,
    entry_time TEXT,
    exit_time TEXT,
    entry_plaza TEXT,
    entry_txn_id TEXT,
    tariff_id TEXT,
    tariff_version INTEGER,
    currency TEXT,
    fee_items TEXT NOT NULL,
    fee_total INTEGER,
    payment_method TEXT,
    payment_status TEXT NOT NULL,
    gateway_ref TEXT,
    evidence_image_ids TEXT NOT NULL,
    operator_id TEXT,
    operator_reason TEXT,
    "references" TEXT,
    flags TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (lane_id, lane_seq)
) STRICT;
-- A transaction is recorded once per decision: its versions share the id.
CREATE INDEX transactions_id ON transactions (id, lane_seq);

CREATE TABLE lane_events (
    lane_id TEXT NOT NULL,
    lane_seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    record_version INTEGER NOT NULL,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    txn_id TEXT,
    operator_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (lane_id, lane_seq)
) STRICT;

CREATE TABLE list_versions (
    list TEXT PRIMARY KEY CHECK (list IN ('permit', 'whitelist', 'blacklist')),
    version INTEGER NOT NULL
) STRICT;

CREATE TABLE list_entries (
    list TEXT NOT NULL REFERENCES list_versions (list),
    plate TEXT NOT NULL,
    valid_from TEXT,
    valid_until TEXT,
    note TEXT NOT NULL,
    PRIMARY KEY (list, plate)
) STRICT;
CREATE INDEX list_entries_plate ON list_entries (plate);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    currency TEXT NOT NULL,
    balance INTEGER NOT NULL
) STRICT;

CREATE TABLE account_plates (
    plate TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE account_ledger (
    key TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id),
    amount INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    at TEXT NOT NULL
) STRICT;

CREATE TABLE tariff_versions (
    tariff_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_from TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tariff_id, version)
) STRICT;

CREATE TABLE open_entries (
    plate TEXT PRIMARY KEY,
    txn_id TEXT NOT NULL,
    lane_id TEXT NOT NULL,
    entry_time TEXT NOT NULL,
    vehicle_class INTEGER
) STRICT;
"""

# Version 2: record version 2 hashes a salted commitment to the plate instead of its
# text, so that plate text past its retention can be replaced by a pseudonym while
# the chain still verifies (see contracts.records.sealed). Version 1 rows keep NULLs here.
_V2 = """
ALTER TABLE transactions ADD COLUMN plate_nonce TEXT;
ALTER TABLE transactions ADD COLUMN plate_digest TEXT;
ALTER TABLE transactions ADD COLUMN plate_pseudonym TEXT;
CREATE INDEX transactions_plate_kept ON transactions (recorded_at) WHERE plate_text IS NOT NULL;
"""

# Version 3: configuration bundles from central (edge.store.config_versions). Each lane
# keeps the bundles it applied, per config topic, and what it prices with now, so a
# restart without the network uses the last good configuration, not the lane's files.
_V3 = """
CREATE TABLE config_bundles (
    lane_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    issued_at TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (lane_id, scope, version)
) STRICT;

CREATE TABLE lane_config (
    lane_id TEXT PRIMARY KEY,
    tariff TEXT,
    network TEXT
) STRICT;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)


class SchemaError(Exception):
    """The database's schema cannot be used by this version of lanewarden."""


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the schema up to ``len(migrations)``; returns the number applied.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    current = schema_version(conn)
    if current > len(migrations):
        raise SchemaError(
            f"database schema version {current} is newer than this lanewarden supports "
            f"(up to {len(migrations)}); it was written by a newer release - upgrade "
            "lanewarden instead of opening it with this one"
        )
    applied = 0
    for version, script in enumerate(migrations[current:], start=current + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have migrated meanwhile.
            if schema_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
            applied += 1
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit on its own)."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\n;"):
        statements.append(pending.strip())
    return statements
