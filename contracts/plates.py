"""The key under which a plate is known on both sides: lists, open entries, central's lookups.

One definition, so that a lane's open entries and central's answer to a remote
entry lookup match the same plates (:func:`plate_key`).
"""

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
