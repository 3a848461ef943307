"""Grammar as re-ranking: every template's best read, plus the free read.

Each template of the region's grammar gets its best constrained CTC path; the
unconstrained read competes too, at a configurable cost, so a plate that fits
no template is still returned (as type ``unknown``). The winner's confidence is
its weakest character times how clearly it beat the runner-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.ctc import Decoded, Folded, best_path, constrained_decode
from models.grammar import ALNUM, PROVINCES, Grammar

#: Added to every province's evidence so that a province the left-part read
#: missed entirely can still win on the full read.
EVIDENCE_FLOOR = 0.01
#: Log-linear weight of the left-part evidence against the full line's own
#: province probabilities: the full line barely resolves the province glyph yet
#: can be sure of a wrong one (陕 for 皖), so the sharper left-part read must
#: outweigh it. On the LPRNet crops the evidence's top province alone is right
#: more often than the two weighed equally (241 against 237 of 250); weights
#: of 3 and more read as that.
EVIDENCE_WEIGHT = 3.0
#: Smoothing of the province evidence when it becomes a confidence.
CONFIDENCE_FLOOR = 0.0005


@dataclass(frozen=True)
class Reading:
    """One candidate text for one line image."""

    text: str
    plate_type: str
    char_conf: tuple[float, ...]
    score: float
    in_grammar: bool
    province_prior_used: bool = False

    @property
    def min_conf(self) -> float:
        return min(self.char_conf, default=0.0)

    @property
    def mean_conf(self) -> float:
        return float(np.mean(self.char_conf)) if self.char_conf else 0.0


def alphabet_for(grammar: Grammar) -> tuple[str, ...]:
    """The folded alphabet: the grammar's characters plus every letter and digit."""
    return tuple(sorted(grammar.alphabet | ALNUM))


def rank(
    folded: Folded,
    grammar: Grammar,
    off_grammar_cost: float,
    *,
    province: str | None = None,
    province_share: float = 0.8,
    province_evidence: Mapping[str, float] | None = None,
) -> list[Reading]:
    """Candidate readings, best first; empty only when the line has no timesteps.

    ``province_evidence`` holds province probabilities from a separate read of
    the plate's left part (or, when the line is sure of its province, the
    line's own); ``province`` names the lane's local province. Both
    weigh the first slot of templates that start with a province, and set that
    character's confidence (Bayes with ``province_share`` as the local prior).
    """
    weights = _province_weights(province, province_share, province_evidence)
    priors = [weights if t.slots[0] == PROVINCES else None for t in grammar.templates]
    decoded_all = constrained_decode(folded, [t.slots for t in grammar.templates], priors)
    readings: list[Reading] = []
    for template, prior, decoded in zip(grammar.templates, priors, decoded_all, strict=True):
        if decoded is None:
            continue
        conf = decoded.char_conf
        used = False
        if prior is not None:
            first = decoded.text[0]
            first_conf = _first_confidence(first, province, province_share, province_evidence)
            conf = (first_conf, *conf[1:]) if province_evidence is not None else conf
            used = province is not None and _leaned_on_prior(
                folded, decoded, province, province_evidence
            )
        readings.append(
            Reading(
                decoded.text,
                template.plate_type,
                conf,
                decoded.log_score + template.log_prior,
                True,
                used,
            )
        )
    free = best_path(folded)
    if free.text and not any(r.text == free.text for r in readings):
        readings.append(
            Reading(
                free.text,
                grammar.plate_type(free.text),
                free.char_conf,
                free.log_score - off_grammar_cost,
                False,
            )
        )
    readings.sort(key=lambda r: r.score, reverse=True)
    return _dedupe(readings)


def _dedupe(readings: list[Reading]) -> list[Reading]:
    seen: set[str] = set()
    out: list[Reading] = []
    for r in readings:
        if r.text not in seen:
            seen.add(r.text)
            out.append(r)
    return out


def _province_weights(
    province: str | None, share: float, evidence: Mapping[str, float] | None
) -> dict[str, float] | None:
    if province is None and evidence is None:
        return None
    other = (1.0 - share) / max(len(PROVINCES) - 1, 1)
    weights: dict[str, float] = {}
    for p in PROVINCES:
        w = (share if p == province else other) if province else 1.0
        if evidence is not None:
            w *= (evidence.get(p, 0.0) + EVIDENCE_FLOOR) ** EVIDENCE_WEIGHT
        weights[p] = w
    return weights


def _first_confidence(
    first: str, province: str | None, share: float, evidence: Mapping[str, float] | None
) -> float:
    """Posterior of the province character among provinces, from the left-part read.

    The recogniser spreads its mass over thousands of CJK characters when a
    province is small; the slot can only hold a province, so its evidence is
    normalised over the provinces (times the local prior when there is one).
    """
    if evidence is None:
        return 0.0
    other = (1.0 - share) / max(len(PROVINCES) - 1, 1)
    weight = {
        p: (evidence.get(p, 0.0) + CONFIDENCE_FLOOR)
        * ((share if p == province else other) if province else 1.0)
        for p in PROVINCES
    }
    return weight.get(first, 0.0) / sum(weight.values())


def _leaned_on_prior(
    folded: Folded, decoded: Decoded, province: str, evidence: Mapping[str, float] | None
) -> bool:
    """Whether the recogniser alone would have put another province first."""
    if not decoded.text.startswith(province):
        return False
    if evidence is not None:
        return max(evidence, key=lambda p: evidence[p]) != province
    start, end = decoded.spans[0]
    cols = [i for i, ch in enumerate(folded.alphabet) if ch in PROVINCES]
    window = folded.probs[start : end + 1, cols].max(axis=0)
    return folded.alphabet[cols[int(window.argmax())]] != province


def margin_factor(readings: list[Reading]) -> float:
    """How clearly the best reading beat the runner-up, in (0.5, 1]: a two-way softmax."""
    if len(readings) < 2:
        return 1.0
    gap = readings[0].score - readings[1].score
    return 1.0 / (1.0 + math.exp(-gap))
