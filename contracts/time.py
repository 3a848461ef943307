"""UTC times on the wire: aware on input, UTC inside, fixed-width text out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, PlainSerializer


def utc_text(moment: datetime) -> str:
    """The canonical text of an aware time: UTC, microseconds, ``Z``; fixed width."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


UtcTime = Annotated[
    AwareDatetime, AfterValidator(_to_utc), PlainSerializer(utc_text, return_type=str)
]
"""An aware time, held in UTC and serialised by :func:`utc_text`."""
