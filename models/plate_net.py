"""The project's own plate recogniser (issue 18): a small CTC network on onnxruntime.

The network (trained by :mod:`models.training.train`, no torch needed here)
reads a plate crop resized to :data:`HEIGHT` x :data:`WIDTH` and emits, per
timestep, probabilities over blank and :data:`CHARSET`. Decoding reuses the
reader's grammar re-ranking (:func:`models.rerank.rank` over the region's
templates): the symbols are already the plate alphabet, so folding only
renames them. The model file names its character set in its metadata, and a
model whose set differs from this code's is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.config import Region
from models.ctc import FloatArray, Folded, Vocabulary, best_path
from models.grammar import grammar_for
from models.rerank import alphabet_for, margin_factor, rank
from models.runtime import ModelLoadError, load_session

#: The model trained in this package (see ``models/plate_net.md``); the reader does not use it yet.
SHIPPED_MODEL = Path(__file__).resolve().parent / "plate_net.onnx"
HEIGHT = 32
WIDTH = 96
#: Provinces, special-plate characters, A-Z and 0-9 (the network's classes after blank).
CHARSET = (
    "云京冀吉宁川新晋桂沪津浙渝湘琼甘皖粤苏蒙藏豫贵赣辽鄂闽陕青鲁黑"
    "学警挂港澳领ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)
SYMBOLS = ("<blank>", *CHARSET)
OFF_GRAMMAR_COST = 12.0
Image = npt.NDArray[np.uint8]


def prepare(crops: list[Image]) -> FloatArray:
    """A (N, 3, HEIGHT, WIDTH) batch of BGR crops scaled to [-1, 1] (training does the same)."""
    batch = np.empty((len(crops), 3, HEIGHT, WIDTH), dtype=np.float32)
    for i, crop in enumerate(crops):
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] < 2 or crop.shape[1] < 2:
            raise ValueError(f"crop {i}: expected a BGR image, got shape {crop.shape}")
        resized = cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        batch[i] = resized.transpose(2, 0, 1).astype(np.float32) / np.float32(127.5) - 1.0
    return batch


@dataclass(frozen=True)
class NetRead:
    """One crop's read: the grammar's best text, its confidence, and the free (greedy) text."""

    text: str
    confidence: float
    plate_type: str
    greedy: str


class PlateNet:
    """The exported network on onnxruntime, decoding with a region's grammar."""

    def __init__(self, path: Path = SHIPPED_MODEL, threads: int = 1) -> None:
        self.session: Any = load_session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("charset") != CHARSET:
            raise ModelLoadError(
                f"plate model {path}: its character set differs from this version's "
                "(export it again with lanewarden plates train)"
            )
        self._input = self.session.get_inputs()[0].name
        self.vocabulary = Vocabulary(SYMBOLS)

    def probabilities(self, crops: list[Image]) -> FloatArray:
        """(N, T, 1 + len(CHARSET)) per-timestep probabilities."""
        out = self.session.run(None, {self._input: prepare(crops)})[0]
        return np.asarray(out, dtype=np.float32)

    def read(self, crops: list[Image], region: Region) -> list[NetRead]:
        grammar = grammar_for(region)
        alphabet = alphabet_for(grammar)
        return [
            decode(self.vocabulary.fold(probs, alphabet), region)
            for probs in self.probabilities(crops)
        ]


def decode(folded: Folded, region: Region) -> NetRead:
    """The grammar-ranked read of one line, confidence = weakest character x margin."""
    readings = rank(folded, grammar_for(region), OFF_GRAMMAR_COST)
    greedy = best_path(folded).text
    if not readings:
        return NetRead("", 0.0, "unknown", greedy)
    best = readings[0]
    return NetRead(best.text, best.min_conf * margin_factor(readings), best.plate_type, greedy)
