"""Plates in the store: the key they are found under (:mod:`contracts.plates`) and pseudonyms."""

from __future__ import annotations

import hashlib
import hmac

from contracts.plates import plate_key

__all__ = ["check_pseudonym_key", "plate_key", "plate_pseudonym"]

MIN_PSEUDONYM_KEY_BYTES = 16


def check_pseudonym_key(key: bytes) -> None:
    """Refuse a site key too short to keep pseudonyms from being brute-forced."""
    if len(key) < MIN_PSEUDONYM_KEY_BYTES:
        raise ValueError(
            f"key: a pseudonym key needs at least {MIN_PSEUDONYM_KEY_BYTES} bytes, got {len(key)}"
        )


def plate_pseudonym(key: bytes, text: str) -> str:
    """HMAC-SHA256 of the plate's key under the site's secret, as hex.

    Equal plates (separators aside) get equal pseudonyms, so statistics still
    match vehicles; without the key the plate cannot be recovered or checked.
    """
    check_pseudonym_key(key)
    try:
        identity = plate_key(text)
    except ValueError:
        identity = text
    return hmac.new(key, identity.encode(), hashlib.sha256).hexdigest()
