"""Grammar as re-ranking: every template's best read, plus the free read.

Each template of the region's grammar gets its best constrained CTC path; the
unconstrained read competes too, at a configurable cost, so a plate that fits
no template is still returned (as type ``unknown``). The winner's confidence is
its weakest character times how clearly it beat the runner-up. Templates that
start with a Chinese province weigh that slot with the lane's local province
and the evidence of a separate read (:mod:`models.regions.cn_province`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.ctc import Folded, best_path, constrained_decode
from models.grammar import ALNUM, PROVINCES, Grammar
from models.regions.cn_province import first_confidence, leaned_on_prior, province_weights


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
    weights = province_weights(province, province_share, province_evidence)
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
            first_conf = first_confidence(first, province, province_share, province_evidence)
            conf = (first_conf, *conf[1:]) if province_evidence is not None else conf
            used = province is not None and leaned_on_prior(
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


def margin_factor(readings: list[Reading]) -> float:
    """How clearly the best reading beat the runner-up, in (0.5, 1]: a two-way softmax."""
    if len(readings) < 2:
        return 1.0
    gap = readings[0].score - readings[1].score
    return 1.0 / (1.0 + math.exp(-gap))
