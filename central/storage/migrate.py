"""Alembic, run from code: the migrations ship in the package, no alembic.ini needed.

:func:`upgrade` brings a database to the newest revision inside one transaction.
On PostgreSQL it first takes an advisory lock, so that workers starting together
migrate once and the others wait and find the schema current; on SQLite the
``BEGIN IMMEDIATE`` of every transaction serialises them the same way.

A new revision is written with ``alembic revision``, pointing a throwaway config
at :data:`MIGRATIONS` (see :func:`config`), and checked by the test that compares
the migrated schema with :mod:`central.storage.schema`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from central.storage.engine import writer

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x4C57_4345  # "LWCE": the advisory lock central's migrations hold


def config(connection: Connection | None = None) -> Config:
    """An Alembic config for central's migrations, bound to ``connection`` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision the package ships."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return revision


def current(connection: Connection) -> str | None:
    """The revision a database is at; None before the first migration."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate the database of ``engine`` to :func:`head`."""
    with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        command.upgrade(config(connection), "head")
