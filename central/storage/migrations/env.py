"""Alembic's entry: migrate the connection :func:`central.storage.migrate.config` carries."""

from __future__ import annotations

from alembic import context

from central.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "central's migrations run online on a connection: use central.storage.migrate.upgrade "
        "(CentralStore.open does), not the alembic command line without one"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
