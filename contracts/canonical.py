"""Canonical JSON: the one text a value hashes to on every side."""

from __future__ import annotations

import hashlib
import json
from typing import Any

JsonValue = str | int | float | bool | None | list[Any] | dict[str, Any]

# One encoder for every call: json.dumps with options builds a new encoder each time,
# which costs more than encoding a record.
_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: JsonValue) -> str:
    """Sorted keys, no whitespace, non-ASCII kept, NaN and infinities refused."""
    return _CANONICAL_ENCODER.encode(value)


def sha256_of(value: JsonValue) -> str:
    """Hex SHA-256 of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
