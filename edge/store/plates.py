"""The key under which lists and open entries find a plate."""

from __future__ import annotations

import hashlib
import hmac

_SEPARATORS = frozenset(" \t-.·•")


def plate_key(text: str) -> str:
    """Upper case without spaces, hyphens and (middle) dots: ``京A·12345`` → ``京A12345``.

    Readers and list files disagree about separators; the characters of the plate
    itself are what identify the vehicle.
    """
    key = "".join(ch for ch in text.upper() if ch not in _SEPARATORS)
    if not key:
        raise ValueError(f"plate: {text!r} has no characters besides separators")
    return key


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
