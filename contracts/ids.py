"""The one set of id patterns: lane, plaza and network ids, tariff ids, identifiers, tokens.

Configuration files, records and MQTT topics all use these, so an id that a lane
file accepts is one that a topic can carry and a record can store.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

SITE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
"""Lane, plaza and network ids: lower case, digits, ``-`` and ``_``; one MQTT topic level."""
TARIFF_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
TOKEN_PATTERN = r"^\S+$"  # noqa: S105 (a reference such as a gateway ref, not a secret)
HASH_HEX_PATTERN = r"^[0-9a-f]{64}$"


def _is_v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError(f"must be a UUIDv7, got version {value.version}")
    return value


LaneId = Annotated[str, Field(pattern=SITE_ID_PATTERN)]
PlazaId = Annotated[str, Field(pattern=SITE_ID_PATTERN)]
NetworkId = Annotated[str, Field(pattern=SITE_ID_PATTERN)]
TariffId = Annotated[str, Field(pattern=TARIFF_ID_PATTERN)]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Token = Annotated[str, Field(min_length=1, max_length=128, pattern=TOKEN_PATTERN)]
HashHex = Annotated[str, Field(pattern=HASH_HEX_PATTERN)]
RecordId = Annotated[UUID, AfterValidator(_is_v7)]
