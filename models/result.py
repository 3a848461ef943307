"""What the reader returns: one ``PlateResult`` per vehicle, never None."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from models.config import Region

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class PlateResult:
    """The reader's answer for one vehicle (what the lane machine is told of it is its
    ``PlateRead`` event).

    ``confidence`` is what the threshold is applied to: the weakest
    character's confidence times how clearly the text beat the runner-up
    reading. ``accepted`` is False for anything the lane must not charge on;
    ``reason`` then says why (no plate found, below threshold, ...).
    """

    text: str
    region: Region
    plate_type: str
    char_confidences: tuple[float, ...]
    confidence: float
    accepted: bool
    reason: str | None
    quad: Quad | None
    crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)
    province_prior_used: bool = False
    frames_read: int = 1
    frames_agreeing: int = 1

    @property
    def mean_confidence(self) -> float:
        return float(np.mean(self.char_confidences)) if self.char_confidences else 0.0

    @property
    def min_confidence(self) -> float:
        return min(self.char_confidences, default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (without the crop pixels)."""
        return {
            "text": self.text,
            "region": self.region,
            "plate_type": self.plate_type,
            "confidence": round(self.confidence, 4),
            "mean_confidence": round(self.mean_confidence, 4),
            "min_confidence": round(self.min_confidence, 4),
            "char_confidences": [round(c, 4) for c in self.char_confidences],
            "accepted": self.accepted,
            "reason": self.reason,
            "quad": [list(p) for p in self.quad] if self.quad else None,
            "province_prior_used": self.province_prior_used,
            "frames_read": self.frames_read,
            "frames_agreeing": self.frames_agreeing,
        }


def unreadable(region: Region, reason: str, quad: Quad | None = None) -> PlateResult:
    """A result for a vehicle whose plate could not be read."""
    return PlateResult("", region, "unknown", (), 0.0, False, reason, quad)
