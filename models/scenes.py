"""Full frames of plates seen at an angle, made from labelled crops and frames.

Lane cameras see plates turned and sheared (a camera beside the lane, a
vehicle at a slant, a bent plate), and the detector's box of such a plate
runs along its characters rather than the plate. Real full frames of that
kind are few in the development set; plate crops are many. Each crop is
pasted, turned and sheared at random, over the labelled plate of a frame
(that plate blurred away first), and the set is written in the layout
``lanewarden bench plates`` reads: a folder with the images and a
``labels.csv`` with the pasted plate's box.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from models.bench import BOX_COLUMNS, BenchError, Box, Sample, samples
from models.image import load_image

Image = npt.NDArray[np.uint8]
#: Turn (degrees either way) and horizontal shear (either way) drawn per plate.
MAX_TURN = 18.0
MAX_SHEAR = 0.25
#: Width in frame pixels of a pasted plate, drawn per plate.
WIDTHS = (130.0, 300.0)
#: Blur (sigma, pixels) hiding the frame's own plate, and the margin blurred around its box.
HIDE_SIGMA = 15.0
HIDE_MARGIN = 5


def scenes(
    crops: list[Sample], frames: list[Sample], seed: int
) -> Iterator[tuple[Sample, Image, Box]]:
    """Each crop pasted into a frame (with its box) drawn at random: the crop,
    the scene and the pasted plate's box."""
    rng = np.random.default_rng(seed)
    backgrounds = [(load_image(f.path), f.box) for f in frames if f.box is not None]
    for crop in crops:
        frame, box = backgrounds[int(rng.integers(len(backgrounds)))]
        turn = float(rng.uniform(-MAX_TURN, MAX_TURN))
        shear = float(rng.uniform(-MAX_SHEAR, MAX_SHEAR))
        width = float(rng.uniform(*WIDTHS))
        scene, pasted = paste(
            load_image(crop.path), frame, box, turn=turn, shear=shear, width=width
        )
        yield crop, scene, pasted


def paste(
    crop: Image,
    frame: Image,
    box: Box,
    *,
    turn: float,
    shear: float,
    width: float,
) -> tuple[Image, Box]:
    """``frame`` with its plate at ``box`` blurred away and ``crop`` pasted at its
    centre, ``width`` pixels wide, turned by ``turn`` degrees and sheared; and
    the pasted plate's box."""
    out = frame.copy()
    h, w = out.shape[:2]
    x1, y1 = max(0, box[0] - HIDE_MARGIN), max(0, box[1] - HIDE_MARGIN)
    x2, y2 = min(w, box[2] + HIDE_MARGIN), min(h, box[3] + HIDE_MARGIN)
    if x2 > x1 and y2 > y1:
        out[y1:y2, x1:x2] = cv2.GaussianBlur(out[y1:y2, x1:x2], (0, 0), HIDE_SIGMA)
    angle = np.deg2rad(turn)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shape = rotate @ np.array([[1.0, shear], [0.0, 1.0]])
    height = width * crop.shape[0] / crop.shape[1]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]]) * [width / 2, height / 2]
    placed = corners @ shape.T + centre
    source = np.array([[0, 0], [crop.shape[1], 0], [0, crop.shape[0]]], dtype=np.float32)
    affine = cv2.getAffineTransform(source, placed[:3].astype(np.float32))
    pasted = cv2.warpAffine(crop, affine, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full(crop.shape[:2], 255, dtype=np.uint8), affine, (w, h)) > 128
    out[mask] = pasted[mask]
    (bx1, by1), (bx2, by2) = placed.min(axis=0), placed.max(axis=0)
    return out, (round(bx1), round(by1), round(bx2), round(by2))


def write_set(crops_folder: Path, frames_folder: Path, out: Path, seed: int) -> tuple[int, Path]:
    """Write the scenes of every crop as a set under ``out``; the count and the
    set's folder. BenchError names a folder without the expected labels."""
    crops, frames = samples(crops_folder), samples(frames_folder)
    for folder, found in ((crops_folder, crops), (frames_folder, frames)):
        if not found:
            raise BenchError(f"{folder}/labels.csv: no images")
    if frames[0].crop:
        raise BenchError(f"{frames_folder}/labels.csv: needs the columns {', '.join(BOX_COLUMNS)}")
    folder = out / f"{crops_folder.name}_in_{frames_folder.name}_seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "plate", *BOX_COLUMNS])
        count = 0
        for crop, scene, box in scenes(crops, frames, seed):
            name = crop.path.with_suffix(".png").name
            cv2.imwrite(str(folder / name), scene)
            writer.writerow([name, crop.plate, *box])
            count += 1
    return count, folder
