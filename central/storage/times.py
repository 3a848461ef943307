"""Times in and out of the database: always UTC.

SQLite keeps a time as naive text, so every time is turned into UTC before it is
written (text order is then time order) and made aware again when read.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_in(moment: datetime, what: str) -> datetime:
    """``moment`` in UTC, for writing; ValueError naming ``what`` when it is naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: {moment.isoformat()} has no time zone (give an aware time)")
    return moment.astimezone(UTC)


def utc_out(moment: datetime) -> datetime:
    """A stored time as an aware UTC time (SQLite hands back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
