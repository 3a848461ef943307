"""Cutting a plate out of a frame: a perspective warp from its four corners."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from models.result import Quad

Points = npt.NDArray[np.float32]
#: An axis-aligned box: x0, y0, x1, y1.
Box = tuple[float, float, float, float]


def order_corners(points: npt.ArrayLike) -> Points:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    pts = np.asarray(points, dtype=np.float32).reshape(4, 2)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def expand(quad: Points, grow_x: float, grow_y: float) -> Points:
    """The quad grown by a share of its width (each side) and height (each side)."""
    tl, tr, br, bl = quad
    along = ((tr - tl) + (br - bl)) / 2.0
    across = ((bl - tl) + (br - tr)) / 2.0
    dx, dy = along * grow_x, across * grow_y
    return np.array([tl - dx - dy, tr + dx - dy, br + dx + dy, bl - dx + dy], dtype=np.float32)


def warp(frame: npt.NDArray[np.uint8], quad: Points) -> npt.NDArray[np.uint8]:
    """The quad's content as an upright rectangle at its own resolution."""
    tl, tr, br, bl = quad
    width = max(float(np.linalg.norm(tr - tl)), float(np.linalg.norm(br - bl)), 2.0)
    height = max(float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr)), 2.0)
    w, h = round(width), round(height)
    target = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    out = cv2.warpPerspective(
        frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, dtype=np.uint8)


def as_quad(points: Points) -> Quad:
    p = [(round(float(x), 1), round(float(y), 1)) for x, y in points]
    return (p[0], p[1], p[2], p[3])


def bounds(points: Points) -> Box:
    """The axis-aligned box around ``points``."""
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def shared_area(a: Box, b: Box) -> float:
    """The area two axis-aligned boxes have in common."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])
