"""Writing a batch's new rows in one go: COPY on PostgreSQL, executemany on SQLite.

The rows are new by construction: the store reads what is held under the lane's
lock and writes only the rest, and every writer takes that lock. So PostgreSQL
can take them by ``COPY`` straight into the table, several times faster than an
INSERT per row, without an ON CONFLICT clause. Should a row be held after all (a
writer that bypassed the lock), the key refuses it, the whole batch rolls back,
and the retry finds it held: a failure, never a duplicate. SQLite's executemany
of one prepared INSERT is already close to its limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Table, insert


def insert_new(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the open transaction."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the connection to PostgreSQL is closed")
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])
