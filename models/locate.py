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

from models.rectify import Box, Points, area, bounds, order_corners, shared_area
from models.runtime import load_session

BIN_THRESHOLD = 0.3
#: DB's "unclip": the detector marks a shrunk text core; grow it back.
UNCLIP_RATIO = 1.6
#: A second, closer look at a found line (``Locator.look_closer``): the window
#: around it (share of its width, of its height, each side), the heights in
#: detector pixels it is enlarged to (two zooms: the detector finds some
#: lines at one and not the other), the largest zoom and window, and the
#: detector score that counts there (the line is already known to be text).
CLOSER_CONTEXT = (0.7, 1.0)
CLOSER_HEIGHTS = (56.0, 80.0)
CLOSER_MAX_ZOOM = 4.0
CLOSER_MIN_ZOOM = 1.2
CLOSER_MAX_SIDE = 960
CLOSER_MIN_SCORE = 0.3
#: A region seen closer is the same line when it covers this share of the first
#: box and its height is within these multiples of the first box's.
SAME_LINE_COVER = 0.6
SAME_LINE_HEIGHT = (0.5, 2.0)
#: Boxes from two zooms whose corners differ by less than this share of the
#: line's height are one box.
SAME_BOX = 0.1


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
        shaped = self._detect(view, scale, min_score, cv2.INTER_AREA)
        shaped = [Candidate(c.quad + np.array([x0, y0], dtype=np.float32), c.score) for c in shaped]
        shaped.sort(key=lambda c: c.score * min(c.size[1], 60.0), reverse=True)
        return shaped[:limit]

    def look_closer(self, frame: npt.NDArray[np.uint8], corners: Points) -> list[Points]:
        """The line at ``corners`` as the detector finds it in an enlarged window around it.

        The first search runs on a frame shrunk to a few hundred pixels, where
        a small plate's characters are 10 to 15 pixels tall; its box then often
        ends inside the plate and cuts off an edge character (``W252`` for
        ``ANW2529``). Enlarged so the line is about ``CLOSER_HEIGHTS`` tall,
        the detector sees its whole extent. Each zoom offers its widest region
        that covers most of the first box and is about as tall (the same line,
        not the plate's frame or a slogan under it); zooms that agree give one
        box.
        """
        box = x0, y0, x1, y1 = bounds(corners)
        w, h = x1 - x0, y1 - y0
        if w < 2 or h < 2:
            return []
        fh, fw = frame.shape[:2]
        gx, gy = CLOSER_CONTEXT
        wx0, wx1 = max(0, int(x0 - gx * w)), min(fw, int(x1 + gx * w) + 1)
        wy0, wy1 = max(0, int(y0 - gy * h)), min(fh, int(y1 + gy * h) + 1)
        window = frame[wy0:wy1, wx0:wx1]
        if min(window.shape[:2]) < 8:
            return []
        boxes: list[Points] = []
        for height in CLOSER_HEIGHTS:
            zoom = min(CLOSER_MAX_ZOOM, height / h, CLOSER_MAX_SIDE / max(window.shape[:2]))
            if zoom < CLOSER_MIN_ZOOM:
                continue  # the line is already this large in the frame: nothing closer to see
            found = self._detect(window, zoom, CLOSER_MIN_SCORE, cv2.INTER_CUBIC)
            same = [
                q
                for c in found
                if _same_line(q := c.quad + np.array([wx0, wy0], dtype=np.float32), box)
            ]
            if not same:
                continue
            widest = max(same, key=lambda q: float(q[:, 0].max() - q[:, 0].min()))
            if not any(float(np.abs(widest - b).max()) < SAME_BOX * h for b in boxes):
                boxes.append(widest)
        return boxes

    def _detect(
        self, view: npt.NDArray[np.uint8], scale: float, min_score: float, interpolation: int
    ) -> list[Candidate]:
        """Plate-shaped regions (and merged neighbours) in ``view`` seen at ``scale``,
        in ``view``'s pixels."""
        h, w = view.shape[:2]
        rh, rw = (max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32))
        small = cv2.resize(view, (rw, rh), interpolation=interpolation)
        batch = (small.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).transpose(2, 0, 1)
        prob = self.session.run(None, {self._input: batch[None]})[0][0, 0]
        sx, sy = w / rw, h / rh
        found = [
            Candidate((quad * [sx, sy]).astype(np.float32), score)
            for quad, score in _regions(prob, min_score)
        ]
        shaped = [c for c in found if _plate_shaped(c)]
        return shaped + [c for c in _merge_neighbours(shaped) if _plate_shaped(c)]


def _same_line(quad: Points, box: Box) -> bool:
    """Whether ``quad`` is the line in ``box`` seen again: it covers most of the
    box and is about as tall."""
    seen = bounds(quad)
    height, seen_height = box[3] - box[1], seen[3] - seen[1]
    low, high = SAME_LINE_HEIGHT
    return shared_area(seen, box) >= SAME_LINE_COVER * area(box) and (
        low * height <= seen_height <= high * height
    )


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
