"""A plate's background colour, on flat and mixed patches."""

from __future__ import annotations

import numpy as np
import pytest

from models.colour import background


def patch(*bgrs: tuple[int, int, int]) -> np.ndarray:
    """A 40x120 image split into equal vertical stripes of the given colours."""
    image = np.zeros((40, 120, 3), dtype=np.uint8)
    width = 120 // len(bgrs)
    for i, bgr in enumerate(bgrs):
        image[:, i * width : (i + 1) * width] = bgr
    return image


@pytest.mark.parametrize(
    ("bgrs", "colour"),
    [
        (((180, 60, 20),), "blue"),
        (((30, 200, 240),), "yellow"),
        (((60, 170, 40),), "green"),
        (((128, 128, 128),), None),  # grey: an infrared or dim plate
        (((180, 60, 20), (60, 170, 40)), None),  # half blue, half green: not clear
        (((180, 60, 20), (245, 245, 245), (245, 245, 245)), "blue"),  # white characters
        (((20, 20, 20),) * 4 + ((180, 60, 20),), None),  # a fifth blue: mostly dark
    ],
)
def test_background_colour(bgrs: tuple[tuple[int, int, int], ...], colour: str | None) -> None:
    assert background(patch(*bgrs)) == colour
