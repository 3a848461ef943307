"""Databases for central's tests: a SQLite file, or a throwaway PostgreSQL schema.

PostgreSQL comes from ``LANEWARDEN_TEST_PG`` (``postgresql://user@host:port/db``);
without it the test is skipped, or fails under ``LANEWARDEN_REQUIRE_SERVICES=1``
(tests/needs.py). Each use gets a schema of its own with a random name, put first
on the connection's ``search_path`` and dropped afterwards, so that parallel runs
never see each other's tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from needs import unavailable
from sqlalchemy.engine import make_url

PG_ENV = "LANEWARDEN_TEST_PG"
BACKENDS = ("sqlite", "postgresql")


def pg_server() -> str:
    """The PostgreSQL URL of this run; skips (or fails) when none is configured or reachable."""
    url = os.environ.get(PG_ENV)
    if not url:
        unavailable(f"{PG_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_ENV} is not reachable: {exc}")
    return url


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A SQLAlchemy URL whose connections work in a fresh schema, dropped on exit."""
    server = pg_server()
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = make_url(server).set(
        drivername="postgresql+psycopg", query={"options": f"-csearch_path={schema}"}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def central_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of ``backend`` (one of :data:`BACKENDS`)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
    elif backend == "postgresql":
        with pg_schema_url() as url:
            yield url
    else:
        raise ValueError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
