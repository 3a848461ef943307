"""Turning whatever a camera or a file gives into an 8-bit BGR frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

MIN_SIDE = 8


class ImageError(ValueError):
    """An image that cannot be read as a frame; the message says what is wrong."""


def load_image(path: Path) -> npt.NDArray[np.uint8]:
    """Read an image file (any depth, grey or colour) as an 8-bit BGR frame."""
    import cv2

    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ImageError(f"{path}: not a readable image (OpenCV cannot decode it)")
    return to_bgr8(img, str(path))


def to_bgr8(img: npt.NDArray[np.generic], name: str = "frame") -> npt.NDArray[np.uint8]:
    """An 8-bit, 3-channel BGR copy of ``img``.

    Accepts grey (2-D or one channel), BGRA, and 16-bit or float images (scaled
    to their own range); rejects empty and tiny frames with an ImageError.
    """
    import cv2

    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageError(f"{name}: expected a 2-D or 3-D image array, got shape {arr.shape}")
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageError(
            f"{name}: image of {arr.shape[1]}×{arr.shape[0]} px is too small "
            f"(at least {MIN_SIDE} px a side)"
        )
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
        low, high = float(arr.min()), float(arr.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        arr = np.clip((arr - low) * scale, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = arr.shape[2]
    if channels == 1:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR).astype(np.uint8)
    if channels == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR).astype(np.uint8)
    if channels == 3:
        return np.ascontiguousarray(arr, dtype=np.uint8)
    raise ImageError(f"{name}: {channels} channels; expected 1 (grey), 3 (BGR) or 4 (BGRA)")


#: Contrast-limited equalisation of the lightness: clip limit and tiles per side.
CLAHE_CLIP = 2.0
CLAHE_TILES = 8


def equalise(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``frame`` (8-bit BGR) with its local contrast raised (CLAHE on the lightness).

    A faint plate (a low sun, dusk, a grimy plate) barely stands out from its
    bumper and the detector may not mark it as text; equalised, it does.
    Colours keep their hue, which the reader needs for plate types.
    """
    import cv2

    lab = cv2.cvtColor(frame, cv2.COLOR_BGR2LAB)
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(CLAHE_TILES, CLAHE_TILES))
    lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), dtype=np.uint8)
