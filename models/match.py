"""Matching a read plate against a list (blacklist, permits, open entries).

Exact first. Otherwise a weighted edit distance in which confusable
characters (O/0, B/8, ...) cost ``confusion_cost`` instead of 1. A fuzzy
match whose runner-up is nearly as close is flagged ambiguous: the lane must
not charge or refuse on it without a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field

from contracts.schema import ConfigModel
from models.grammar import confusion_weight
from models.text import normalise


class MatchConfig(ConfigModel):
    max_distance: float = Field(
        1.0,
        ge=0.0,
        title="Largest distance",
        description="Entries farther than this from the read plate do not match.",
    )
    confusion_cost: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        title="Confusion cost",
        description="Cost of substituting a fully confusable pair (O/0, I/1, ...); other substitutions, insertions and deletions cost 1.",
    )
    ambiguity_gap: float = Field(
        0.5,
        ge=0.0,
        title="Ambiguity gap",
        description="A fuzzy match is ambiguous when the runner-up entry is within this distance of the best.",
    )


@dataclass(frozen=True)
class Match:
    """The outcome of matching one plate against a list."""

    entry: str | None
    distance: float
    exact: bool
    ambiguous: bool
    runner_up: str | None = None


def substitution_cost(a: str, b: str, confusion_cost: float) -> float:
    if a == b:
        return 0.0
    weight = confusion_weight(a, b)
    return 1.0 - (1.0 - confusion_cost) * weight


def plate_distance(a: str, b: str, confusion_cost: float) -> float:
    """Weighted Levenshtein distance; symmetric in ``a`` and ``b``."""
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        cur = [float(i)] + [0.0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(
                prev[j] + 1.0,
                cur[j - 1] + 1.0,
                prev[j - 1] + substitution_cost(ca, cb, confusion_cost),
            )
        prev = cur
    return prev[-1]


def match_plate(text: str, entries: Iterable[str], config: MatchConfig) -> Match:
    """The entry ``text`` matches, exact before fuzzy; ``entry`` None when none does."""
    plate = normalise(text)
    listed = sorted({normalise(e) for e in entries})
    if plate in listed:
        return Match(plate, 0.0, True, False)
    scored = sorted((plate_distance(plate, e, config.confusion_cost), e) for e in listed if plate)
    close = [(d, e) for d, e in scored if d <= config.max_distance]
    if not close:
        return Match(None, scored[0][0] if scored else float("inf"), False, False)
    best_d, best = close[0]
    runner = close[1] if len(close) > 1 else None
    ambiguous = runner is not None and runner[0] - best_d <= config.ambiguity_gap
    return Match(best, best_d, False, ambiguous, runner[1] if runner else None)
