"""Plate syntax per region, as templates of character slots.

A template is a sequence of slots; each slot is the set of characters a plate
may carry at that position. The decoder (:mod:`models.ctc`) searches the
recogniser's per-timestep probabilities for the best text that fits a
template. Grammar is a preference, never a filter: :mod:`models.rerank` also
keeps the unconstrained read, at a cost, so a plate outside every template is
still returned (with a lower confidence and plate type ``unknown``).

Confusable characters (O/0, I/1, B/8, S/5, Z/2, D/0, ...) are what makes the
grammar useful: where a slot allows only digits, the probability the
recogniser gave to ``O`` counts (weighted) toward ``0``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from models.config import Region

DIGITS = frozenset(string.digits)
LETTERS = frozenset(string.ascii_uppercase)
ALNUM = DIGITS | LETTERS
#: Chinese plates never use I or O (they read as 1 and 0).
CN_ALNUM = ALNUM - {"I", "O"}
CN_LETTERS = LETTERS - {"I", "O"}
PROVINCES = frozenset("京津沪渝冀晋蒙辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新")
#: Last characters of special Chinese plates (coach, police, trailer, HK/Macau).
CN_SUFFIXES = frozenset("学警挂港澳领")

#: Pairs a recogniser confuses on plates, with how much of the wrong
#: character's probability counts toward the right one when only the right
#: one is allowed in a slot: roughly how often the recogniser writes the one
#: when the plate carries the other, relative to reading it right.
CONFUSIONS: dict[tuple[str, str], float] = {
    ("O", "0"): 0.2,
    ("I", "1"): 0.05,
    ("B", "8"): 0.05,
    ("S", "5"): 0.05,
    ("Z", "2"): 0.05,
    ("D", "0"): 0.05,
    ("Q", "0"): 0.05,
    ("G", "6"): 0.05,
    ("T", "7"): 0.03,
    ("A", "4"): 0.03,
}


def confusion_weight(a: str, b: str) -> float:
    """How easily ``a`` and ``b`` are confused (0 when they are not), symmetric."""
    if a == b:
        return 1.0
    return CONFUSIONS.get((a, b), CONFUSIONS.get((b, a), 0.0))


@dataclass(frozen=True)
class Template:
    """One plate layout: a slot per character and a log prior."""

    plate_type: str
    slots: tuple[frozenset[str], ...]
    log_prior: float = 0.0

    def matches(self, text: str) -> bool:
        return len(text) == len(self.slots) and all(
            ch in slot for ch, slot in zip(text, self.slots, strict=True)
        )


@dataclass(frozen=True)
class Grammar:
    """The templates of one region."""

    region: Region
    templates: tuple[Template, ...]

    @property
    def alphabet(self) -> frozenset[str]:
        """Every character some template allows."""
        return frozenset().union(*(s for t in self.templates for s in t.slots))

    def plate_type(self, text: str) -> str:
        """The type of the first template ``text`` fits, or ``unknown``."""
        for template in self.templates:
            if template.matches(text):
                return template.plate_type
        return "unknown"


def _alnum_range(
    plate_type: str, low: int, high: int, slot: frozenset[str], log_prior: float = 0.0
) -> tuple[Template, ...]:
    return tuple(Template(plate_type, (slot,) * n, log_prior) for n in range(low, high + 1))


def _layout(pattern: str) -> tuple[frozenset[str], ...]:
    """Slots from a pattern of L (letter) and D (digit)."""
    return tuple(LETTERS if ch == "L" else DIGITS for ch in pattern)


#: Frequent European layouts: FR/IT/HR/SK (AB123CD), UK (AB12CDE), CZ (1AB2345,
#: 1A23456), PL/DE-like (ABC1234, ABC123), ES (1234ABC), NL-like (12ABC3).
EU_LAYOUTS = ("LLDDDLL", "LLDDLLL", "DLLDDDD", "DLDDDDD", "LLLDDDD", "LLLDDD", "DDDDLLL", "DDLLLD")


P, L, X = PROVINCES, CN_LETTERS, CN_ALNUM
D = DIGITS

GRAMMARS: dict[Region, Grammar] = {
    "cn": Grammar(
        "cn",
        (
            Template("cn_blue", (P, L, X, X, X, X, X)),
            Template("cn_green_small", (P, L, frozenset("DFABCEGHJK"), X, D, D, D, D), -0.5),
            Template("cn_green_large", (P, L, D, D, D, D, D, frozenset("DF")), -1.0),
            Template("cn_special", (P, L, X, X, X, X, CN_SUFFIXES), -3.0),
        ),
    ),
    "br": Grammar(
        "br",
        (
            Template("br_old", (LETTERS, LETTERS, LETTERS, D, D, D, D)),
            Template("br_mercosur", (LETTERS, LETTERS, LETTERS, D, LETTERS, D, D), -0.5),
        ),
    ),
    # Most US states print O and 0 with one glyph and issue only the digit.
    "us": Grammar("us", _alnum_range("us", 4, 8, ALNUM - {"O"})),
    # Common national layouts first; any 4 to 9 letters and digits at a cost.
    "eu": Grammar(
        "eu",
        (
            *(Template("eu", _layout(layout)) for layout in EU_LAYOUTS),
            *_alnum_range("eu", 4, 9, ALNUM, -2.0),
        ),
    ),
}


def grammar_for(region: Region) -> Grammar:
    return GRAMMARS[region]
