"""A plate's background colour, which tells Chinese plate types apart.

Blue plates (cars) and yellow plates (lorries, coaches, learner cars) carry
seven characters; green new-energy plates carry eight. The recogniser sees
only the characters, so the colour is what names a seven-character plate
yellow rather than blue, and what tells the reader that a confident
seven-character read of a blue or yellow plate is all of it. The coloured
background also shows where the plate itself lies in a cut of its line.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from models.rectify import Points, order_corners

Colour = Literal["blue", "yellow", "green"]

#: OpenCV hue ranges (0-179) of plate backgrounds.
HUES: dict[Colour, tuple[int, int]] = {"yellow": (15, 34), "green": (35, 90), "blue": (95, 130)}
#: A pixel this saturated (0-255) has a hue worth counting.
MIN_SATURATION = 70
#: The winning colour covers at least this share of the plate image ...
MIN_SHARE = 0.25
#: ... and at least this many times the share of any other colour.
MIN_LEAD = 1.5


#: The plate's coloured region covers at least this share of its line's cut ...
MIN_PLATE_SHARE = 0.3
#: ... is at least this bright (0-255; the shadow around a plate may share its hue) ...
MIN_PLATE_VALUE = 90
#: ... and is at least this many times as wide as high (Chinese plates are 3:1 or wider).
MIN_PLATE_ASPECT = 1.5


def background(image: npt.NDArray[np.uint8]) -> Colour | None:
    """The plate's colour when one clearly dominates; None for grey, dim or mixed images."""
    return _dominant(_masks(_hsv(image)))


def _dominant(masks: dict[Colour, npt.NDArray[np.bool_]]) -> Colour | None:
    shares = {colour: float(mask.mean()) for colour, mask in masks.items()}
    top = max(shares, key=lambda c: shares[c])
    runner_up = max(share for colour, share in shares.items() if colour != top)
    if shares[top] >= MIN_SHARE and shares[top] >= MIN_LEAD * runner_up:
        return top
    return None


def plate_corners(image: npt.NDArray[np.uint8]) -> Points | None:
    """The corners of the plate's coloured background in ``image`` (a cut of its line).

    The text detector boxes the characters, and on a plate seen at an angle
    its box is tilted or sheared against the plate, with room above and below
    the characters; the background follows the plate's own edges. None when
    no colour dominates, or its largest region is too small or not plate-shaped.
    """
    hsv = _hsv(image)
    masks = _masks(hsv)
    colour = _dominant(masks)
    if colour is None:
        return None
    mask = (masks[colour] & (hsv[..., 2] >= MIN_PLATE_VALUE)).astype(np.uint8) * 255
    size = max(3, image.shape[0] // 8) | 1  # joins background split by the characters' strokes
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel), dtype=np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(largest) < MIN_PLATE_SHARE * image.shape[0] * image.shape[1]:
        return None
    corners = order_corners(cv2.boxPoints(cv2.minAreaRect(largest)))
    tl, tr, _, bl = corners
    if np.linalg.norm(tr - tl) < MIN_PLATE_ASPECT * np.linalg.norm(bl - tl):
        return None
    return corners


def _hsv(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2HSV), dtype=np.uint8)


def _masks(hsv: npt.NDArray[np.uint8]) -> dict[Colour, npt.NDArray[np.bool_]]:
    """Each plate colour's saturated pixels in an HSV image."""
    hue, saturated = hsv[..., 0], hsv[..., 1] > MIN_SATURATION
    return {
        colour: saturated & (hue >= low) & (hue <= high) for colour, (low, high) in HUES.items()
    }
