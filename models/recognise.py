"""Reading one rectified plate image into per-timestep probabilities.

The PP-OCR recogniser takes a 48-pixel-high line of any width and emits one
probability vector per 8 pixels of width. Each line keeps its own aspect
(stretching it, tried on the Chinese crops, read worse). Two-row plates are
split into rows, read separately and their timesteps joined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.ctc import FloatArray, Vocabulary
from models.runtime import load_session, rec_symbols

HEIGHT = 48
#: Lines whose widths are within this ratio of the narrowest share a batch.
BATCH_WIDTH_RATIO = 1.5
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class LineProbs:
    """Recogniser output for one line image: (T, V) probabilities."""

    probs: FloatArray


class Recogniser:
    """The PP-OCR text-line recogniser on onnxruntime."""

    def __init__(self, path: Path, threads: int) -> None:
        self.session: Any = load_session(path, threads)
        self.vocabulary = Vocabulary(rec_symbols(self.session, path))
        self._input = self.session.get_inputs()[0].name

    def read(self, lines: Sequence[Image], widths: Sequence[int]) -> list[LineProbs]:
        """Probabilities for each line resized to its width × 48.

        Lines of similar width share a batch, the narrower padded on the right
        (as PaddleOCR batches) and their output cut back to their own
        timesteps; very different widths run apart, so that padding does not
        cost more than a second call.
        """
        out: list[LineProbs | None] = [None] * len(lines)
        order = sorted(range(len(lines)), key=lambda i: widths[i])
        while order:
            group = [i for i in order if widths[i] <= widths[order[0]] * BATCH_WIDTH_RATIO]
            order = order[len(group) :]
            probs = self._run([lines[i] for i in group], [widths[i] for i in group])
            for i, p in zip(group, probs, strict=True):
                out[i] = p
        return [p for p in out if p is not None]

    def _run(self, lines: Sequence[Image], widths: Sequence[int]) -> list[LineProbs]:
        full = max(widths)
        batch = np.zeros((len(lines), 3, HEIGHT, full), dtype=np.float32)
        for i, (img, width) in enumerate(zip(lines, widths, strict=True)):
            resized = np.asarray(cv2.resize(img, (width, HEIGHT)), dtype=np.uint8)
            batch[i, :, :, :width] = _normalise(resized)
        out = self.session.run(None, {self._input: batch})[0]
        steps = out.shape[1] / full
        return [
            LineProbs(np.ascontiguousarray(o[: max(1, int(w * steps))], dtype=np.float32))
            for o, w in zip(out, widths, strict=True)
        ]


def _normalise(img: Image) -> FloatArray:
    arr = img.astype(np.float32).transpose(2, 0, 1)
    return (arr / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


def line_width(img: Image, minimum: int = 64, maximum: int = 640, stretch: float = 1.0) -> int:
    """Input width for ``img`` at height 48 (its own aspect, times ``stretch``), rounded to 8 pixels."""
    h, w = int(img.shape[0]), int(img.shape[1])
    width = round(HEIGHT * stretch * (w / max(h, 1)) / 8.0) * 8
    return max(minimum, min(maximum, width))


def split_rows(img: Image, top_share: float) -> tuple[Image, Image]:
    """Top and bottom rows of a two-row plate (the top row is the shorter one)."""
    h = img.shape[0]
    cut = max(1, min(h - 1, round(h * top_share)))
    return img[:cut], img[cut:]
