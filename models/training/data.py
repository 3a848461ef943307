"""Training samples: rendered plates mixed with the train parts of the real sets.

Only sets whose licence lets them train weights (``weights`` in the manifest)
contribute, and only their train parts; full frames give their labelled box,
cut with a plate finder's error. Every batch is drawn from a generator seeded
by the run's seed and the step, so a run resumed from a checkpoint sees the
batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.image import ImageError, load_image
from models.plate_net import CHARSET
from models.training.augment import cut, degrade, place
from models.training.manifest import Box, DataSet
from models.training.render import Renderer

Rng = np.random.Generator
Image = npt.NDArray[np.uint8]
#: Around a frame's labelled box, the share of the box's size kept in memory for cutting.
KEEP_AROUND = 0.3
INDEX = {ch: i + 1 for i, ch in enumerate(CHARSET)}


class DataError(ValueError):
    """A training image or label that cannot be used."""


@dataclass(frozen=True)
class RealCrop:
    image: Image
    #: The plate's box inside ``image`` (frames), or None (the image is the crop).
    box: Box | None
    plate: str


def encode(text: str) -> list[int]:
    """Class indices of ``text`` (1-based; 0 is the CTC blank)."""
    missing = sorted({ch for ch in text if ch not in INDEX})
    if missing:
        raise DataError(f"plate {text!r}: characters {''.join(missing)} are not in the charset")
    return [INDEX[ch] for ch in text]


def load_real(shared: Path, sets: Sequence[DataSet]) -> list[RealCrop]:
    """The train parts of the sets that may train weights, frames cut down around their box."""
    out = []
    for s in sets:
        if not s.policy.weights or s.policy.validation_only:
            continue
        for entry in s.train:
            try:
                image = load_image(shared / entry.path)
            except ImageError as exc:
                raise DataError(f"{s.name}: {exc}") from None
            encode(entry.plate)
            if entry.box is None:
                out.append(RealCrop(image, None, entry.plate))
                continue
            x1, y1, x2, y2 = entry.box
            mx, my = int((x2 - x1) * KEEP_AROUND), int((y2 - y1) * KEEP_AROUND)
            left, top = max(0, x1 - mx), max(0, y1 - my)
            sub = image[top : y2 + my, left : x2 + mx].copy()
            out.append(RealCrop(sub, (x1 - left, y1 - top, x2 - left, y2 - top), entry.plate))
    return out


class Samples:
    """Batches of (crop, text): rendered plates, and real crops at ``real_share``."""

    def __init__(self, renderer: Renderer, real: Sequence[RealCrop], real_share: float) -> None:
        if not 0.0 <= real_share < 1.0:
            raise ValueError(f"real_share {real_share}: must be in [0, 1)")
        self.renderer = renderer
        self.real = list(real)
        self.real_share = real_share if self.real else 0.0

    def sample(self, rng: Rng) -> tuple[Image, str]:
        if rng.random() < self.real_share:
            crop = self.real[int(rng.integers(len(self.real)))]
            image = crop.image if crop.box is None else cut(crop.image, crop.box, rng)
            return degrade(image, rng, strength=0.5), crop.plate
        plate = self.renderer.plate(rng)
        return degrade(place(plate.image, rng, tight=plate.region == "cn"), rng), plate.text

    def batch(self, seed: int, step: int, size: int) -> list[tuple[Image, str]]:
        rng = np.random.default_rng([seed, step])
        return [self.sample(rng) for _ in range(size)]
