"""Opening a store's SQLite file and running write transactions on it.

Settings: WAL journal (readers never block the writer), ``synchronous=FULL`` (a
commit is on disk when it returns, so a record is durable before the barrier
moves), foreign keys on, and a busy timeout because several lane daemons of one
site may share the file. Every write transaction starts with ``BEGIN IMMEDIATE``:
it takes the write lock up front, so reading a lane's head and writing its next
record can never interleave with another writer (a deferred transaction would
fail with SQLITE_BUSY on the upgrade instead of waiting).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from edge.store.schema import APPLICATION_ID, SchemaError, migrate, schema_version


class StoreError(Exception):
    """The store's file is missing, unreadable or not a lanewarden store."""


DURABLE_PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
)


def connect(path: Path, *, busy_timeout_s: float = 5.0, create: bool = True) -> sqlite3.Connection:
    """A connection with the store's settings, after checking the file is a store."""
    if not create and not path.exists():
        raise StoreError(f"{path}: no such file")
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a store file")
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from None
    try:
        _check_identity(conn, path)
        for pragma in DURABLE_PRAGMAS:
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection (for ``store verify``): never creates nor migrates."""
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a store file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from None
    try:
        _check_identity(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a readable SQLite database ({exc})") from None
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
        raise StoreError(f"{path}: a SQLite database, but not a lanewarden store")


class Db:
    """One connection to a store, safe to share between threads.

    :meth:`write` is the only way to change the database. Nested :meth:`write`
    blocks join the outer transaction (as savepoints), so several changes, such
    as a transaction record and the open entry it creates, commit together.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.RLock()
        self.utils = sqlite_utils.Database(conn)

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout_s: float = 5.0) -> Db:
        """Open (creating if needed) and migrate the store at ``path``."""
        conn = connect(Path(path), busy_timeout_s=busy_timeout_s)
        try:
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: cannot migrate: {exc}") from None
        except SchemaError as exc:
            conn.close()
            raise SchemaError(f"{path}: {exc}") from None
        return cls(conn)

    @property
    def version(self) -> int:
        with self.lock:
            return schema_version(self.conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed durably on exit, rolled back on error."""
        with self.lock:
            if self.conn.in_transaction:
                self.conn.execute("SAVEPOINT nested")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK TO nested")
                    self.conn.execute("RELEASE nested")
                    raise
                self.conn.execute("RELEASE nested")
                return
            self.conn.execute("BEGIN IMMEDIATE")
            committed = False
            try:
                yield self.conn
                self.conn.execute("COMMIT")
                committed = True
            finally:
                if not committed and self._open_transaction():
                    self.conn.execute("ROLLBACK")

    def _open_transaction(self) -> bool:
        """Whether a transaction is still open (an error may already have ended it)."""
        return self.conn.in_transaction

    def close(self) -> None:
        with self.lock:
            self.conn.close()
