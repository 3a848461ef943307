"""Engines for the two databases central runs on, and the one dialect difference it writes.

SQLite is the single-site default: WAL, and ``BEGIN IMMEDIATE`` for every
transaction of :func:`writer`, so that two writers queue for the lock at the
start instead of one failing when it upgrades a read lock (SQLite's "database is
locked"); reads begin deferred and never hold writers up. PostgreSQL
is reached through psycopg 3; a bare ``postgresql://`` URL means psycopg.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError

SQLITE_BUSY_MS = 30_000
_WRITE = "lanewarden_write"


class StoreUrlError(ValueError):
    """A database URL central cannot use."""


def database_url(url: str) -> URL:
    """``url`` checked: ``sqlite:///path`` or ``postgresql[+psycopg]://...``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUrlError(
            f"database url {url!r}: not a URL (sqlite:///path or postgresql+psycopg://...)"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise StoreUrlError(
                f"database url {url!r}: SQLite needs a file (sqlite:///path), "
                "since workers share it through separate connections"
            )
        return parsed
    if backend == "postgresql" and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreUrlError(
        f"database url {url!r}: {parsed.drivername!r} is not supported "
        "(sqlite or postgresql+psycopg)"
    )


def make_engine(url: str) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off: _sqlite_begin opens each one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def writer(engine: Engine) -> Engine:
    """``engine`` for transactions that write: on SQLite they take the write lock first."""
    return engine.execution_options(**{_WRITE: True})


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def upsert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT, in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
