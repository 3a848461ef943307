"""Signed messages between the lane and the payment gateway.

Every request to the gateway and every callback from it carries four headers:
the merchant id, a Unix timestamp (seconds), a random nonce and an HMAC-SHA256
signature, in lower-case hex, keyed with the shared secret, over::

    METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n CANONICAL_JSON(body)

The canonical JSON has sorted keys, no whitespace and UTF-8 text, so a proxy
that re-indents a body does not break its signature; a GET signs ``{}``. The
receiver refuses a timestamp further than ``max_skew_s`` from its clock (stale)
and a nonce it has seen within that window (replayed). Nonces are remembered
only after the signature checks out, so forged messages cannot fill the cache,
and only for as long as their timestamp is fresh, so the cache stays bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

H_MERCHANT = "x-lw-merchant"
H_TIMESTAMP = "x-lw-timestamp"
H_NONCE = "x-lw-nonce"
H_SIGNATURE = "x-lw-signature"

WallClock = Callable[[], float]


def canonical_json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(
    secret: bytes, method: str, path: str, *, timestamp: int, nonce: str, body: Mapping[str, Any]
) -> str:
    head = f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n".encode()
    return hmac.new(secret, head + canonical_json(body), hashlib.sha256).hexdigest()


def sign(
    secret: bytes,
    merchant_id: str,
    method: str,
    path: str,
    body: Mapping[str, Any],
    *,
    now: float,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign one message."""
    nonce = nonce or secrets.token_hex(16)
    timestamp = int(now)
    return {
        H_MERCHANT: merchant_id,
        H_TIMESTAMP: str(timestamp),
        H_NONCE: nonce,
        H_SIGNATURE: signature(secret, method, path, timestamp=timestamp, nonce=nonce, body=body),
    }


class Rejection(StrEnum):
    """Why a signed message was refused."""

    MISSING = "missing_headers"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    REPLAYED = "replayed"


class SignatureError(Exception):
    def __init__(self, reason: Rejection, detail: str) -> None:
        self.reason = reason
        super().__init__(f"signature: {reason.value}: {detail}")


@dataclass
class Verifier:
    """Checks signatures, freshness and nonces of incoming messages; thread-safe."""

    secret: bytes
    max_skew_s: float = 300.0
    clock: WallClock = time.time

    def __post_init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def remembered(self) -> int:
        """How many nonces are held (those of fresh messages only)."""
        with self._lock:
            return len(self._seen)

    def verify(
        self, method: str, path: str, headers: Mapping[str, str], body: Mapping[str, Any]
    ) -> None:
        """Return when the message is authentic and new; raise SignatureError otherwise.

        ``headers`` must be looked up case-insensitively (an ``email.message.Message``
        or a dict with lower-case keys).
        """
        missing = [h for h in (H_TIMESTAMP, H_NONCE, H_SIGNATURE) if not headers.get(h)]
        if missing:
            raise SignatureError(Rejection.MISSING, f"no {', '.join(missing)} header")
        nonce = headers[H_NONCE]
        try:
            timestamp = int(headers[H_TIMESTAMP])
        except ValueError:
            raise SignatureError(
                Rejection.MISSING, f"{H_TIMESTAMP} is not an integer: {headers[H_TIMESTAMP]!r}"
            ) from None
        expected = signature(self.secret, method, path, timestamp=timestamp, nonce=nonce, body=body)
        if not hmac.compare_digest(expected, headers[H_SIGNATURE].lower()):
            raise SignatureError(Rejection.BAD_SIGNATURE, "does not match the shared secret")
        now = self.clock()
        if abs(now - timestamp) > self.max_skew_s:
            raise SignatureError(
                Rejection.STALE,
                f"timestamp {timestamp} is {now - timestamp:+.0f} s from now "
                f"(allowed ±{self.max_skew_s:.0f} s)",
            )
        with self._lock:
            horizon = now - self.max_skew_s
            for old in [n for n, ts in self._seen.items() if ts < horizon]:
                del self._seen[old]
            if nonce in self._seen:
                raise SignatureError(Rejection.REPLAYED, f"nonce {nonce!r} already used")
            self._seen[nonce] = timestamp
