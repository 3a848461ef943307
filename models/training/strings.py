"""Plate strings for synthetic plates: real Chinese strings, layouts elsewhere.

Chinese strings come from the CCPD list (``ccpd_plate_strings.txt``), whose
letters and digits are real but whose provinces are 88 % 皖: the province is
drawn again (every province equally, 皖 a little more) and the city letter
half the time. Plates of every region carry look-alike characters (O/0, B/8,
I/1, D/0, Z/2, G/6, Q/O, S/5) far more often than real traffic, since those
are what a recogniser must learn to tell apart. Plates of the validation parts
of the manifest are never produced.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from models.grammar import CN_ALNUM, CN_LETTERS, DIGITS, EU_LAYOUTS, LETTERS, PROVINCES

Rng = np.random.Generator
LOOK_ALIKES = "O0B8I1D0Z2G6QOS5"
#: Share of free characters drawn from :data:`LOOK_ALIKES` instead of uniformly.
LOOK_ALIKE_SHARE = 0.35
PROVINCE_ORDER = "".join(sorted(PROVINCES))
#: Share of synthetic Chinese plates that keep the CCPD string's own province (皖).
HOME_PROVINCE_SHARE = 0.1
US_LAYOUTS = ("LLLDDDD", "DLLLDDD", "LLLDDD", "DDDLLL", "LLDDDDD", "DDDDDD", "DLLDDD", "LLDDDL")
US_ALNUM = "".join(sorted((DIGITS | LETTERS) - {"O"}))


class StringError(ValueError):
    """A plate-string list that cannot be used."""


def _pick(rng: Rng, allowed: Collection[str]) -> str:
    """A character of ``allowed``, a look-alike of it more often than chance."""
    pool = sorted(allowed)
    if rng.random() < LOOK_ALIKE_SHARE:
        alike = [c for c in LOOK_ALIKES if c in allowed]
        if alike:
            return str(alike[rng.integers(len(alike))])
    return str(pool[rng.integers(len(pool))])


def from_layout(rng: Rng, layout: str, letters: Collection[str] = LETTERS) -> str:
    """A string of a layout of L (letter), D (digit) and X (either)."""
    slots = {"L": letters, "D": DIGITS, "X": set(letters) | DIGITS}
    return "".join(_pick(rng, slots[ch]) for ch in layout)


class ChineseStrings:
    """Chinese plate strings drawn from the CCPD list with the province re-weighted."""

    def __init__(self, strings: Sequence[str], exclude: Collection[str] = ()) -> None:
        tails = sorted({s[1:] for s in strings if len(s) == 7 and s[0] in PROVINCES} - {""})
        if not tails:
            raise StringError("no 7-character Chinese plate string to draw from")
        self.tails = tails
        self.exclude = frozenset(exclude)

    @classmethod
    def from_file(cls, path: Path, exclude: Collection[str] = ()) -> ChineseStrings:
        try:
            lines = path.read_text(encoding="utf-8").split()
        except OSError as exc:
            raise StringError(f"{path}: cannot read the plate strings ({exc})") from None
        return cls(lines, exclude)

    def province(self, rng: Rng) -> str:
        if rng.random() < HOME_PROVINCE_SHARE:
            return "皖"
        return PROVINCE_ORDER[rng.integers(len(PROVINCE_ORDER))]

    def blue(self, rng: Rng) -> str:
        """A 7-character plate: a real CCPD tail, its province and often its city letter new."""
        while True:
            tail = self.tails[rng.integers(len(self.tails))]
            if rng.random() < 0.5:
                tail = _pick(rng, CN_LETTERS) + tail[1:]
            if rng.random() < 0.3:  # look-alikes where the real tails have few
                i = int(rng.integers(1, len(tail)))
                tail = tail[:i] + _pick(rng, CN_ALNUM) + tail[i + 1 :]
            plate = self.province(rng) + tail
            if plate not in self.exclude:
                return plate

    def green(self, rng: Rng) -> str:
        """An 8-character new-energy plate (small car: D/F third, large: D/F last)."""
        while True:
            head = self.province(rng) + _pick(rng, CN_LETTERS)
            if rng.random() < 0.7:
                body = _pick(rng, "DFABCEGHJK") + _pick(rng, CN_ALNUM) + from_layout(rng, "DDDD")
            else:
                body = from_layout(rng, "DDDDD") + _pick(rng, "DF")
            if head + body not in self.exclude:
                return head + body

    def suffixed(self, rng: Rng, suffix: str) -> str:
        """A 7-character plate ending in a special character (警, 学, 挂, 港, 澳, 领)."""
        head = "粤Z" if suffix in "港澳" else self.province(rng) + _pick(rng, CN_LETTERS)
        return (
            head + from_layout(rng, "XDDD" if rng.random() < 0.3 else "DDDD", CN_LETTERS) + suffix
        )


def us(rng: Rng) -> str:
    """A US registration: a common layout, or 4 to 7 free characters (never O)."""
    letters = set(US_ALNUM) - DIGITS
    if rng.random() < 0.75:
        return from_layout(rng, US_LAYOUTS[rng.integers(len(US_LAYOUTS))], letters)
    return "".join(_pick(rng, US_ALNUM) for _ in range(int(rng.integers(4, 8))))


def eu(rng: Rng) -> str:
    return from_layout(rng, EU_LAYOUTS[rng.integers(len(EU_LAYOUTS))])


def br(rng: Rng, mercosur: bool) -> str:
    return from_layout(rng, "LLLDLDD" if mercosur else "LLLDDDD")


#: Every character a synthetic plate may carry.
CHARACTERS = PROVINCE_ORDER + "学警挂港澳领" + string.ascii_uppercase + string.digits
