"""The key under which lists and open entries find a plate."""

from __future__ import annotations

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
