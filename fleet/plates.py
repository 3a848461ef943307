"""The demo's plates: distinct random plates, rendered from text by the camera simulator.

The simulator draws them with the plate font shipped in the package, so any
machine renders them. :data:`SHIPPED_PLATES` are the real plate photos of
``tests/data/plates`` (CCPD and LPRNet crops, see the ATTRIBUTION file there),
which the lane bench shows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from simulators.camera import random_plate

K = TypeVar("K")

SHIPPED_PLATES = Path(__file__).resolve().parents[1] / "tests" / "data" / "plates"


def demo_plates(counts: Mapping[K, int], seed: int) -> dict[K, list[str]]:
    """``counts[kind]`` distinct plates for each kind of vehicle, none shared between kinds."""
    rng = random.Random(seed)
    pool: set[str] = set()
    while len(pool) < sum(counts.values()):
        pool.add(random_plate(rng))
    ordered = sorted(pool)
    rng.shuffle(ordered)
    result: dict[K, list[str]] = {}
    for kind, n in counts.items():
        result[kind], ordered = ordered[:n], ordered[n:]
    return result
