"""Finding candidate plates in a full frame.

The PP-OCR text detector (a DB segmentation net) runs on a downscaled copy of
the frame, or of its region of interest; its text regions become rotated
rectangles in frame coordinates. Plates are short lines of large characters,
so regions that are too thin, too elongated or too small are dropped, and
neighbouring regions on one line (``ABC 123`` split at its gap) are also
offered merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.rectify import Points, order_corners
from models.runtime import load_session

BIN_THRESHOLD = 0.3
#: DB's "unclip": the detector marks a shrunk text core; grow it back.
UNCLIP_RATIO = 1.6


@dataclass(frozen=True)
class Candidate:
    """A text region that may be a plate: corners in frame pixels and detector score."""

    quad: Points
    score: float

    @property
    def size(self) -> tuple[float, float]:
        tl, tr, _br, bl = self.quad
        return float(np.linalg.norm(tr - tl)), float(np.linalg.norm(bl - tl))


class Locator:
    """PP-OCR text detection tuned for plate candidates."""

    def __init__(self, path: Path, threads: int) -> None:
        self.session: Any = load_session(path, threads)
        self._input = self.session.get_inputs()[0].name

    def find(
        self,
        frame: npt.NDArray[np.uint8],
        max_side: int,
        roi: tuple[int, int, int, int] | None,
        limit: int,
        min_score: float,
    ) -> list[Candidate]:
        """Up to ``limit`` plate-shaped text regions, the most plate-like first."""
        x0, y0 = 0, 0
        view = frame
        if roi is not None:
            x0, y0 = max(0, roi[0]), max(0, roi[1])
            view = frame[y0 : roi[3], x0 : roi[2]]
        h, w = view.shape[:2]
        if h < 8 or w < 8:
            return []
        # At most ``max_side`` on the long side and a 16:9 frame's worth of
        # pixels, so square or portrait frames cost no more than landscape ones.
        budget = max_side * max_side * 9 / 16
        scale = min(1.0, max_side / max(h, w), (budget / (h * w)) ** 0.5)
        rh, rw = (max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32))
        small = cv2.resize(view, (rw, rh), interpolation=cv2.INTER_AREA)
        batch = (small.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).transpose(2, 0, 1)
        prob = self.session.run(None, {self._input: batch[None]})[0][0, 0]
        regions = _regions(prob, min_score)
        sx, sy = w / rw, h / rh
        found = [
            Candidate((quad * [sx, sy] + [x0, y0]).astype(np.float32), score)
            for quad, score in regions
        ]
        shaped = [c for c in found if _plate_shaped(c)]
        shaped += [c for c in _merge_neighbours(shaped) if _plate_shaped(c)]
        shaped.sort(key=lambda c: c.score * min(c.size[1], 60.0), reverse=True)
        return shaped[:limit]


def _regions(prob: npt.NDArray[np.float32], min_score: float) -> list[tuple[Points, float]]:
    bitmap = cv2.dilate((prob > BIN_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out: list[tuple[Points, float]] = []
    for contour in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < 2:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        mask = np.zeros((bh, bw), dtype=np.uint8)
        cv2.drawContours(mask, [contour - [x, y]], -1, 1, thickness=-1)
        score = float(cv2.mean(prob[y : y + bh, x : x + bw], mask)[0])
        if score < min_score:
            continue
        grow = rw * rh * UNCLIP_RATIO / (2 * (rw + rh))
        box = cv2.boxPoints(((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle))
        out.append((order_corners(box), score))
    return out


def _plate_shaped(c: Candidate) -> bool:
    width, height = c.size
    return height >= 6 and 0.8 <= width / max(height, 1e-3) <= 12.0


def _merge_neighbours(cands: list[Candidate]) -> list[Candidate]:
    """Pairs of regions that sit side by side on one line, as one region."""
    merged: list[Candidate] = []
    for i, a in enumerate(cands):
        for b in cands[i + 1 :]:
            left, right = (a, b) if a.quad[0, 0] <= b.quad[0, 0] else (b, a)
            ha, hb = left.size[1], right.size[1]
            gap = right.quad[0, 0] - left.quad[1, 0]
            dy = abs(left.quad[:, 1].mean() - right.quad[:, 1].mean())
            if max(ha, hb) > 1.4 * min(ha, hb) or dy > 0.4 * max(ha, hb):
                continue
            if -0.2 * ha <= gap <= 1.2 * max(ha, hb):
                quad = np.array(
                    [left.quad[0], right.quad[1], right.quad[2], left.quad[3]], dtype=np.float32
                )
                merged.append(Candidate(quad, min(a.score, b.score)))
    return merged
