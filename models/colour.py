"""A plate's background colour, which tells Chinese plate types apart.

Blue plates (cars) and yellow plates (lorries, coaches, learner cars) carry
seven characters; green new-energy plates carry eight. The recogniser sees
only the characters, so the colour is what names a seven-character plate
yellow rather than blue, and what tells the reader that a confident
seven-character read of a blue or yellow plate is all of it.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

Colour = Literal["blue", "yellow", "green"]

#: OpenCV hue ranges (0-179) of plate backgrounds.
HUES: dict[Colour, tuple[int, int]] = {"yellow": (15, 34), "green": (35, 90), "blue": (95, 130)}
#: A pixel this saturated (0-255) has a hue worth counting.
MIN_SATURATION = 70
#: The winning colour covers at least this share of the plate image ...
MIN_SHARE = 0.25
#: ... and at least this many times the share of any other colour.
MIN_LEAD = 1.5


def background(image: npt.NDArray[np.uint8]) -> Colour | None:
    """The plate's colour when one clearly dominates; None for grey, dim or mixed images."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    hue, saturated = hsv[..., 0], hsv[..., 1] > MIN_SATURATION
    shares = {
        colour: float((saturated & (hue >= low) & (hue <= high)).mean())
        for colour, (low, high) in HUES.items()
    }
    top = max(shares, key=lambda c: shares[c])
    runner_up = max(share for colour, share in shares.items() if colour != top)
    if shares[top] >= MIN_SHARE and shares[top] >= MIN_LEAD * runner_up:
        return top
    return None
