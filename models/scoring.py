"""How the plate reader weighs a reading: priors from its characters, and the ranking of lines.

A frame holds more text than its plate (dealer names, stickers, slogans, a
state's name); these rules say which read line is most likely the
registration, and when a wider read shows the first was cut short.
"""

from __future__ import annotations

from models.candidates import Scored
from models.rerank import Reading

#: Regions whose plates (nearly) always carry a digit; words such as EXIT,
#: TEXAS or a car make read nearby are then weak candidates.
NEEDS_DIGIT = frozenset({"us", "eu", "br"})
NO_DIGIT_FACTOR = 0.3
ALL_DIGITS_FACTOR = 0.4
#: A read that fits no template of the region is returned, but never accepted
#: at a sensible threshold.
OFF_GRAMMAR_FACTOR = 0.5
#: Lines at least this share of the tallest grammatical line's height count as full size.
FULL_SIZE_SHARE = 0.75


def plate_likeness(text: str, region: str, *, scene: bool) -> float:
    """A prior that a line with this text is a registration, from its mix of characters.

    Without a digit it is most likely a word (EXIT, TEXAS, a car make; on US
    lanes a read O is folded into 0, so 0 does not count). In a scene, a line
    of digits alone is more often a phone number, a time stamp or a taxi
    number than a US plate.
    """
    if region not in NEEDS_DIGIT:
        return 1.0
    if not has_digit(text, region):
        return NO_DIGIT_FACTOR
    if scene and region == "us" and all(ch.isdigit() for ch in text):
        return ALL_DIGITS_FACTOR
    return 1.0


def has_digit(text: str, region: str) -> bool:
    """Whether ``text`` has a digit, as plates of ``region`` do: on US lanes a read O
    is folded into 0, so 0 does not count there; regions without that rule always pass."""
    if region not in NEEDS_DIGIT:
        return True
    return any(ch.isdigit() and not (region == "us" and ch == "0") for ch in text)


def extends(wide: Reading, text: str, threshold: float) -> bool:
    """``wide`` is ``text`` with characters added at its ends, each read at ``threshold`` or more."""
    start = wide.text.find(text)
    if start < 0 or len(wide.text) == len(text):
        return False
    added = wide.char_conf[:start] + wide.char_conf[start + len(text) :]
    return min(added) >= threshold


def rank_key(scored: Scored, tallest: float = 0.0) -> tuple[bool, bool, float]:
    """Ranking of candidate lines: grammatical first, then with a digit where
    plates carry one, then confidence times size.

    The province character does not count here: how sure the reader is of it
    says nothing about which line is the plate.
    """
    size = 1.0
    if tallest > 0:
        size = min(1.0, scored.line.height / (FULL_SIZE_SHARE * tallest))
    return scored.reading.in_grammar, scored.has_digit, scored.found * size
