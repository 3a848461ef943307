"""Fusing the reads of one vehicle's frames into one answer.

Each frame's text gets the sum of its reads' confidences; the text with the
most wins. The fused confidence is the best agreeing read's confidence scaled
by the winner's share of the total, so frames that disagree lower it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from models.config import Region
from models.result import PlateResult, unreadable


def fuse(reads: Sequence[PlateResult], threshold: float, region: Region) -> PlateResult:
    """One PlateResult for the frames of one vehicle."""
    if not reads:
        return unreadable(region, "no frames")
    texts = [r for r in reads if r.text]
    if not texts:
        return replace(reads[0], frames_read=len(reads), frames_agreeing=0)
    weight: dict[str, float] = {}
    for r in texts:
        weight[r.text] = weight.get(r.text, 0.0) + max(r.confidence, 1e-6)
    winner = max(
        weight, key=lambda t: (weight[t], -min(i for i, r in enumerate(texts) if r.text == t))
    )
    agreeing = [r for r in texts if r.text == winner]
    best = max(agreeing, key=lambda r: r.confidence)
    share = weight[winner] / sum(weight.values())
    confidence = best.confidence * share
    char_conf = tuple(max(cs) for cs in zip(*(r.char_confidences for r in agreeing), strict=True))
    accepted = confidence >= threshold
    return replace(
        best,
        char_confidences=char_conf,
        confidence=confidence,
        accepted=accepted,
        reason=None if accepted else f"confidence {confidence:.2f} below threshold {threshold:.2f}",
        province_prior_used=any(r.province_prior_used for r in agreeing),
        frames_read=len(reads),
        frames_agreeing=len(agreeing),
    )
