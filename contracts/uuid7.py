"""UUIDv7 (RFC 9562) ids: drawn at random, or derived without randomness.

Both put the Unix time in milliseconds into the top 48 bits, so ids sort by creation
time to the millisecond (which keeps SQLite's id index append-mostly), then the
version 7, 12 bits ``rand_a``, the variant ``0b10`` and 62 bits ``rand_b``.

:func:`uuid7` draws ``rand_a`` and ``rand_b`` from :mod:`secrets`. The pure lane
machine cannot draw random bits, so :func:`derive_uuid7` fills ``rand_a`` with the
low bits of the lane's id counter (ids of one millisecond sort in the order they were
made) and ``rand_b`` from SHA-256 of the lane's nonce and the counter: a replay
derives the same ids, while two starts of a lane (two nonces) never collide.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_NONCE_BYTES = 8
"""The shortest nonce :func:`derive_uuid7` is given (the shell draws it from ``os.urandom``)."""


def _layout(millis: int, rand_a: int, rand_b: int) -> UUID:
    value = (
        (millis & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (rand_a & 0xFFF) << 64
        | 0b10 << 62
        | (rand_b & ((1 << 62) - 1))
    )
    return UUID(int=value)


def uuid7(at: datetime | None = None) -> UUID:
    """A random UUIDv7; ``at`` fixes the time part (for replays and tests)."""
    moment = at if at is not None else datetime.now(UTC)
    return _layout(int(moment.timestamp() * 1000), secrets.randbits(12), secrets.randbits(62))


def derive_uuid7(nonce: bytes, counter: int, now: datetime) -> UUID:
    """The UUIDv7 for the ``counter``-th id of a lane started with ``nonce``, made at ``now``."""
    millis = (now - _EPOCH) // timedelta(milliseconds=1)
    digest = hashlib.sha256(nonce + counter.to_bytes(8, "big")).digest()
    return _layout(millis, counter, int.from_bytes(digest[:8], "big"))
