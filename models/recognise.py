"""Reading one rectified plate image into per-timestep probabilities.

The PP-OCR recogniser takes a 48-pixel-high line of any width and emits one
probability vector per 8 pixels of width. Plates are short: stretching the
line horizontally gives each character more timesteps, which makes the
CTC alignment (and the province character on 94×24 Chinese crops) easier.
Two-row plates are split into rows, read separately and joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.ctc import FloatArray, Vocabulary
from models.runtime import load_session, rec_symbols

HEIGHT = 48
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

    def read(self, lines: list[Image], width: int) -> list[LineProbs]:
        """Probabilities for each line, all resized to ``width`` × 48 in one batch."""
        batch = np.stack(
            [
                _normalise(np.asarray(cv2.resize(img, (width, HEIGHT)), dtype=np.uint8))
                for img in lines
            ]
        )
        out = self.session.run(None, {self._input: batch})[0]
        return [LineProbs(np.ascontiguousarray(o, dtype=np.float32)) for o in out]


def _normalise(img: Image) -> FloatArray:
    arr = img.astype(np.float32).transpose(2, 0, 1)
    return (arr / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


def line_width(img: Image, stretch: float, minimum: int = 64, maximum: int = 640) -> int:
    """Input width for ``img`` at height 48, stretched, rounded to 8 pixels."""
    h, w = int(img.shape[0]), int(img.shape[1])
    width = round(HEIGHT * (w / max(h, 1)) * stretch / 8.0) * 8
    return max(minimum, min(maximum, width))


def split_rows(img: Image, top_share: float) -> tuple[Image, Image]:
    """Top and bottom rows of a two-row plate (the top row is the shorter one)."""
    h = img.shape[0]
    cut = max(1, min(h - 1, round(h * top_share)))
    return img[:cut], img[cut:]
