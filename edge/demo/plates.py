"""Where the demo's plates come from: rendered from text, or the shipped photos.

The camera simulator renders a plate from its text when a CJK font is
installed (``fonts-wqy-microhei`` or ``fonts-noto-cjk``), so the demo can use
as many different plates as it likes. Without such a font it shows the real
plate photos shipped in ``tests/data/plates`` (CCPD and LPRNet crops, see the
ATTRIBUTION file there), whose ``labels.csv`` gives their plates.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from simulators.camera import random_plate, read_labels
from simulators.plate_render import CJK_PACKAGES, CJKFontMissingError, find_cjk_font

K = TypeVar("K")

SHIPPED_PLATES = Path(__file__).resolve().parents[2] / "tests" / "data" / "plates"


@dataclass(frozen=True)
class PlateSource:
    folder: Path | None
    """The labelled photos shown; None: plates rendered from text."""

    @classmethod
    def find(cls) -> PlateSource:
        try:
            find_cjk_font()
        except CJKFontMissingError:
            return cls(SHIPPED_PLATES)
        return cls(None)

    def describe(self) -> str:
        if self.folder is None:
            return "rendered from text by the camera simulator"
        return (
            f"photos from {self.folder}: no CJK font to render plates from text "
            f"(install {CJK_PACKAGES} for as many plates as the demo likes)"
        )

    def plates(self, counts: Mapping[K, int], seed: int) -> dict[K, list[str]]:
        """Distinct plates for each kind of vehicle, dealt out one kind after the other
        (a few photos go as far as they can)."""
        rng = random.Random(seed)
        if self.folder is None:
            wanted = sum(counts.values())
            pool: set[str] = set()
            while len(pool) < wanted:
                pool.add(random_plate(rng))
            ordered = sorted(pool)
            rng.shuffle(ordered)
        else:
            ordered = sorted(set(read_labels(self.folder).values()))
            rng.shuffle(ordered)
        result: dict[K, list[str]] = {kind: [] for kind in counts}
        rounds = max(counts.values(), default=0)
        kinds = [kind for i in range(rounds) for kind, n in counts.items() if i < n]
        for kind, plate in zip(kinds, ordered, strict=False):
            result[kind].append(plate)
        return result
