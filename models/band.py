"""European plates: cutting off the blue EU band at the left edge.

The band carries the country code (``SK``, ``HR``, ``D``...), which the
recogniser reads as one more character of the registration. The band is a
run of saturated blue columns starting at the plate's left edge.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

#: OpenCV hue (0..180) of the EU band's blue, and its minimum saturation and value.
BLUE_HUE = (95, 135)
MIN_SATURATION = 70
MIN_VALUE = 40
#: The band starts within this share of the width and spans between these shares.
START_WITHIN = 0.10
WIDTH_RANGE = (0.03, 0.18)


def strip_left_band(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``crop`` without its left blue band; unchanged when there is none."""
    h, w = crop.shape[:2]
    if w < 20 or h < 8:
        return crop
    part = cv2.cvtColor(crop[int(h * 0.15) : int(h * 0.85), : int(w * 0.3)], cv2.COLOR_BGR2HSV)
    hue, sat, val = part[:, :, 0], part[:, :, 1], part[:, :, 2]
    blue = (
        (hue >= BLUE_HUE[0]) & (hue <= BLUE_HUE[1]) & (sat >= MIN_SATURATION) & (val >= MIN_VALUE)
    )
    share = blue.mean(axis=0)
    columns = np.flatnonzero(share > 0.4)
    if columns.size == 0 or columns[0] > START_WITHIN * w:
        return crop
    end = int(columns[0])
    while end + 1 < share.size and share[end + 1] > 0.25:
        end += 1
    width = end - int(columns[0]) + 1
    if not WIDTH_RANGE[0] * w <= width <= WIDTH_RANGE[1] * w:
        return crop
    return crop[:, end + 1 :]
