"""Times as the store keeps them: canonical UTC text, which sorts in time order."""

from __future__ import annotations

from datetime import datetime

from contracts.time import utc_text


def stored_time(moment: datetime, field: str) -> str:
    """``moment`` as stored; a naive time is refused, naming ``field``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field}: must be timezone-aware, got naive {moment.isoformat()}")
    return utc_text(moment)


def loaded_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def optional_stored_time(moment: datetime | None, field: str) -> str | None:
    return None if moment is None else stored_time(moment, field)


def optional_loaded_time(text: str | None) -> datetime | None:
    return None if text is None else loaded_time(text)
