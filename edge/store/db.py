"""Opening a store's SQLite file and running write transactions on it.

Settings: WAL journal (readers never block the writer), ``synchronous=FULL`` (a
commit is on disk when it returns, so a record is durable before the barrier
moves), foreign keys on, and a busy timeout because several lane daemons of one
site may share the file. Every write transaction starts with ``BEGIN IMMEDIATE``:
it takes the write lock up front, so reading a lane's head and writing its next
record can never interleave with another writer (a deferred transaction would
fail with SQLITE_BUSY on the upgrade instead of waiting).

After a commit that moved a lane's head the store rewrites its head file
(:mod:`edge.store.head`). :func:`read_only` reads a store without changing any of
its files, which a start needs before it trusts the store with a write.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from edge.store.head import Head, head_file, read_heads, write_head_file
from edge.store.schema import APPLICATION_ID, SchemaError, migrate, schema_version
from plumbing import log

logger = log.get(__name__)


class StoreError(Exception):
    """The store's file is missing, unreadable or not a lanewarden store."""


class StoreFullError(StoreError):
    """The store cannot grow (its disk, or its size limit, is full): the write was rolled back.

    Everything committed before stays as it was; the same write can be tried
    again once there is space.
    """


class StoreDamagedError(StoreError):
    """The store's files are damaged, or hold less than the lane already wrote."""


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def shm_of(path: Path) -> Path:
    return path.with_name(path.name + "-shm")


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
    _refuse_emptied(path)
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


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that sees the store as a writer would and changes none of its files.

    SQLite's ``mode=ro`` alone is not enough: it writes read marks into the
    ``-shm``, rebuilds it after a crash, and creates a ``-wal`` and ``-shm`` when
    they are missing. So, with no WAL content, ``immutable=1`` (nothing to recover,
    no lock, nothing created); with a WAL and its ``-shm``, ``readonly_shm=1``
    (SQLite then reads the WAL into its own memory when no other connection
    vouches for the index, as a recovery would); with a WAL but no ``-shm``
    (copied by hand), a private copy of both in a temporary folder.
    """
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a store file")
    _refuse_emptied(path)
    wal = wal_of(path)
    if not _has_content(wal):
        with _opened(path, path, "mode=ro&immutable=1") as conn:
            yield conn
    elif shm_of(path).exists():
        with _opened(path, path, "mode=ro&readonly_shm=1") as conn:
            yield conn
    else:
        with tempfile.TemporaryDirectory(prefix="lanewarden-store-") as folder:
            copy = Path(folder) / path.name
            try:
                shutil.copyfile(path, copy)
                shutil.copyfile(wal, wal_of(copy))
            except OSError as exc:
                raise StoreError(
                    f"{path}: cannot copy it and its WAL to read them: {exc.strerror or exc}"
                ) from None
            with _opened(copy, path, "mode=ro") as conn:
                yield conn


@contextmanager
def _opened(path: Path, named: Path, query: str) -> Iterator[sqlite3.Connection]:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{named}: cannot open: {exc}") from None
    try:
        _check_identity(conn, named)
        yield conn
    finally:
        conn.close()


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _refuse_emptied(path: Path) -> None:
    """An empty database file beside a WAL: SQLite would delete the WAL on opening it."""
    wal = wal_of(path)
    if path.is_file() and path.stat().st_size == 0 and _has_content(wal):
        raise StoreDamagedError(
            f"{path}: the database file is empty (0 bytes) but its WAL {wal.name} holds "
            f"{wal.stat().st_size} bytes: the file was truncated"
        )


def check_pages(conn: sqlite3.Connection, path: Path) -> None:
    """SQLite's ``quick_check`` of every page: raises :class:`StoreDamagedError` naming the damage."""
    try:
        damage = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise StoreDamagedError(f"{path}: the SQLite file is damaged: {exc}") from None
    if damage != ["ok"]:
        raise StoreDamagedError(
            f"{path}: the SQLite file is damaged: quick_check: {'; '.join(damage[:5])}"
        )


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorname.startswith("SQLITE_CORRUPT"):
            raise StoreDamagedError(f"{path}: the SQLite file is damaged: {exc}") from None
        raise StoreError(f"{path}: not a readable SQLite database ({exc})") from None
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
        raise StoreError(f"{path}: a SQLite database, but not a lanewarden store")


class Db:
    """One connection to a store, safe to share between threads.

    :meth:`write` is the only way to change the database. Nested :meth:`write`
    blocks join the outer transaction (as savepoints), so several changes, such
    as a transaction record and the open entry it creates, commit together.
    """

    def __init__(self, conn: sqlite3.Connection, heads_to: Path) -> None:
        self.conn = conn
        self.lock = threading.RLock()
        self.utils = sqlite_utils.Database(conn)
        self.heads_to = heads_to
        """The store's head file."""
        self._head_moved = False

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout_s: float = 5.0) -> Db:
        """Open (creating if needed) and migrate the store at ``path``."""
        path = Path(path)
        conn = connect(path, busy_timeout_s=busy_timeout_s)
        try:
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: cannot migrate: {exc}") from None
        except SchemaError as exc:
            conn.close()
            raise SchemaError(f"{path}: {exc}") from None
        db = cls(conn, head_file(path))
        db._start_head_file()
        return db

    def _start_head_file(self) -> None:
        """A new store gets its (empty) head file at once, so that one is always there."""
        with self.lock:
            if not self.heads_to.exists() and not read_heads(self.conn):
                self._write_heads([])

    @property
    def version(self) -> int:
        with self.lock:
            return schema_version(self.conn)

    def head_moved(self) -> None:
        """Inside :meth:`write`: this transaction moves a head, the head file follows its commit."""
        self._head_moved = True

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed durably on exit, rolled back on error.

        A full disk (SQLITE_FULL) raises StoreFullError, the transaction rolled back.
        """
        try:
            with self._write() as conn:
                yield conn
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
                raise StoreFullError(f"the store is full: {exc}") from exc
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            if self.conn.in_transaction:
                self.conn.execute("SAVEPOINT nested")
                try:
                    yield self.conn
                except BaseException:
                    # SQLITE_FULL (and I/O errors) may have rolled back the whole
                    # transaction already, the savepoint with it.
                    if self._open_transaction():
                        self.conn.execute("ROLLBACK TO nested")
                        self.conn.execute("RELEASE nested")
                    raise
                self.conn.execute("RELEASE nested")
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._head_moved = False
            committed = False
            try:
                yield self.conn
                # Read in the transaction: exactly the heads this commit leaves.
                heads = read_heads(self.conn) if self._head_moved else None
                self.conn.execute("COMMIT")
                committed = True
            finally:
                if not committed and self._open_transaction():
                    self.conn.execute("ROLLBACK")
            if heads is not None:
                self._write_heads(heads)

    def _write_heads(self, heads: list[Head]) -> None:
        """Rewrite the head file; a failure is logged, the commit stands (the file lags)."""
        try:
            write_head_file(self.heads_to, heads)
        except OSError as exc:
            logger.error("head_file_write_failed", path=str(self.heads_to), error=str(exc))

    def _open_transaction(self) -> bool:
        """Whether a transaction is still open (an error may already have ended it)."""
        return self.conn.in_transaction

    def close(self) -> None:
        with self.lock:
            self.conn.close()
