"""Schema versions: migrations on open, refusal of newer schemas and of foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store import SchemaError, Store, StoreError
from edge.store.schema import APPLICATION_ID, MIGRATIONS, migrate, schema_version

OLD = ("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT;",)
NEW = (*OLD, "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT 'tech';")


def autocommit(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


class TestMigrations:
    """Opening a store applies the migrations it lacks, each atomically."""

    def test_new_store_is_at_the_latest_version(self, tmp_path: Path) -> None:
        with Store.open(tmp_path / "lane.db") as store:
            assert store.schema_version == len(MIGRATIONS)
        conn = autocommit(tmp_path / "lane.db")
        try:
            assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        finally:
            conn.close()

    def test_reopening_applies_nothing(self, tmp_path: Path) -> None:
        Store.open(tmp_path / "lane.db").close()
        conn = autocommit(tmp_path / "lane.db")
        try:
            assert migrate(conn) == 0
        finally:
            conn.close()

    def test_older_database_is_migrated_and_keeps_its_data(self, tmp_path: Path) -> None:
        conn = autocommit(tmp_path / "old.db")
        try:
            assert migrate(conn, OLD) == 1
            conn.execute("INSERT INTO notes (text) VALUES ('barrier greased')")
            assert migrate(conn, NEW) == 1
            assert schema_version(conn) == 2
            assert conn.execute("SELECT text, author FROM notes").fetchall() == [
                ("barrier greased", "tech")
            ]
        finally:
            conn.close()

    def test_failed_migration_leaves_the_previous_version(self, tmp_path: Path) -> None:
        conn = autocommit(tmp_path / "old.db")
        try:
            migrate(conn, OLD)
            broken = (*OLD, "ALTER TABLE notes ADD COLUMN a TEXT; ALTER TABLE nope ADD b TEXT;")
            with pytest.raises(sqlite3.OperationalError, match="no such table: nope"):
                migrate(conn, broken)
            assert schema_version(conn) == 1
            columns = [row[1] for row in conn.execute("PRAGMA table_info(notes)")]
            assert columns == ["id", "text"]
        finally:
            conn.close()


class TestRefusals:
    """A store this release cannot use is refused with a clear error."""

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.db"
        Store.open(path).close()
        conn = autocommit(path)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        conn.close()
        expected = (
            f"{path}: database schema version {len(MIGRATIONS) + 1} is newer than this "
            f"lanewarden supports \\(up to {len(MIGRATIONS)}\\)"
        )
        with pytest.raises(SchemaError, match=expected):
            Store.open(path)

    def test_other_sqlite_database_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "other.db"
        conn = autocommit(path)
        conn.execute("CREATE TABLE customers (id INTEGER)")
        conn.close()
        with pytest.raises(StoreError, match="a SQLite database, but not a lanewarden store"):
            Store.open(path)

    def test_garbage_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "garbage.db"
        path.write_bytes(b"this is not a database at all" * 200)
        with pytest.raises(StoreError, match="not a readable SQLite database"):
            Store.open(path)

    def test_directory_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(StoreError, match="is a directory, not a store file"):
            Store.open(tmp_path)

    def test_missing_directory_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "no-such-dir" / "lane.db"
        with pytest.raises(StoreError, match=f"{path}: cannot open: unable to open database file"):
            Store.open(path)
