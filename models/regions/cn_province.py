"""The Chinese province character: the lane's local-province prior and the evidence for it.

A Chinese plate starts with its province's glyph, which the recogniser barely
resolves at plate scale. Two things sharpen it: the lane's local province (most
plates at a lane are local, ``province_share`` of them), and the evidence of a
separate read of the plate's left part (:mod:`models.regions.cn`). Both weigh
the first slot of the templates that start with a province
(:func:`models.rerank.rank`), and set that character's confidence.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.ctc import Decoded, Folded
from models.grammar import PROVINCES

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


def province_peaks(folded: Folded) -> dict[str, float]:
    """Each province's highest probability at any timestep of ``folded``."""
    cols = [i for i, ch in enumerate(folded.alphabet) if ch in PROVINCES]
    peaks = folded.probs[:, cols].max(axis=0)
    return {folded.alphabet[c]: float(p) for c, p in zip(cols, peaks, strict=True)}


def province_weights(
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


def first_confidence(
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


def leaned_on_prior(
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
