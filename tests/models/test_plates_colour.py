"""A plate's background colour, on flat and mixed patches, and the plate it outlines."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.colour import background, plate_corners
from models.rectify import order_corners


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


PLATE_BLUE = (180, 60, 20)


def plate_in_cut(
    angle: float, size: tuple[int, int] = (150, 48), around: tuple[int, int, int] = (90, 90, 90)
) -> tuple[np.ndarray, np.ndarray]:
    """A 100x200 cut of a line with a blue plate of ``size`` turned by ``angle``
    degrees at its centre, white strokes on it; and the plate's corners."""
    image = np.full((100, 200, 3), around, dtype=np.uint8)
    corners = cv2.boxPoints(((100.0, 50.0), size, angle)).astype(np.float32)
    cv2.fillConvexPoly(image, corners.astype(np.int32), PLATE_BLUE)
    for x in range(70, 135, 15):  # characters' strokes across the background
        cv2.line(image, (x, 40), (x + 4, 60), (245, 245, 245), 3)
    return image, order_corners(corners)


@pytest.mark.parametrize("angle", [0.0, 8.0, -12.0])
def test_plate_corners_follow_the_plate(angle: float) -> None:
    image, corners = plate_in_cut(angle)
    found = plate_corners(image)
    assert found is not None
    assert np.abs(found - corners).max() <= 2.0


def test_dark_surroundings_of_the_plates_hue_are_not_the_plate() -> None:
    """A navy car body around a blue plate shares its hue, not its brightness."""
    image, corners = plate_in_cut(5.0, around=(70, 25, 10))
    found = plate_corners(image)
    assert found is not None
    assert np.abs(found - corners).max() <= 2.0


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (np.full((100, 200, 3), 128, dtype=np.uint8), "grey: no colour"),
        (plate_in_cut(0.0, size=(110, 90))[0], "not plate-shaped"),
        (plate_in_cut(0.0, size=(140, 40))[0], "too small a share of the cut"),
    ],
)
def test_no_plate_corners(image: np.ndarray, why: str) -> None:
    assert plate_corners(image) is None, why
