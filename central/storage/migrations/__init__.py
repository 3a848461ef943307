"""Alembic migrations of central's schema, run by :mod:`central.storage.migrate`."""
