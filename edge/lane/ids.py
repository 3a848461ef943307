"""Transaction and event ids: UUIDv7, derived without randomness.

The machine is pure, so it cannot draw random bits. An id is a UUIDv7 (RFC 9562)
whose 48-bit timestamp is the step's ``now`` in milliseconds, whose 12-bit
``rand_a`` holds the low bits of the lane's id counter (so ids of one
millisecond sort in the order they were made) and whose 62-bit ``rand_b`` comes
from SHA-256 of the lane's nonce and the counter. The shell draws the nonce from
``os.urandom`` once per daemon start and keeps it with the event log, so a replay
derives the same ids while two starts of a lane never collide.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_NONCE_BYTES = 8


def derive_uuid7(nonce: bytes, counter: int, now: datetime) -> UUID:
    """The UUIDv7 for the ``counter``-th id of a lane started with ``nonce``, made at ``now``."""
    millis = (now - _EPOCH) // timedelta(milliseconds=1)
    digest = hashlib.sha256(nonce + counter.to_bytes(8, "big")).digest()
    rand_b = int.from_bytes(digest[:8], "big") & ((1 << 62) - 1)
    value = (
        (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (counter & 0xFFF) << 64 | 0b10 << 62 | rand_b
    )
    return UUID(int=value)
