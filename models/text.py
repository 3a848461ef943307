"""Plate text normalisation, shared by scoring and matching."""

from __future__ import annotations

import re

_DROP = re.compile(r"[\s·\-]")


def normalise(text: str) -> str:
    """Drop whitespace, '·' and '-', and upper-case (the datasets' scoring rule)."""
    return _DROP.sub("", text).upper()
