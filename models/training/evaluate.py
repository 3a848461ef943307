"""Measuring a trained plate model on a part of the manifest's sets (``lanewarden plates eval``).

Crop sets are read as they are; full-frame sets are read on their labelled
box (widened by :data:`BOX_MARGIN`), so the figures are the recogniser's
alone, not the plate finder's. With ``reader`` the current plate reader
(:class:`models.reader.PlateReader`, PP-OCR) reads the same crops, which is
what the new model has to beat before the reader may use it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.config import Region
from models.image import ImageError, load_image
from models.text import normalise
from models.training.manifest import DataSet, Entry

BOX_MARGIN = (0.04, 0.1)
Image = npt.NDArray[np.uint8]
#: A reader of one crop: (text, confidence).
Engine = Callable[[Image, Region], tuple[str, float]]


@dataclass(frozen=True)
class EvalRow:
    engine: str
    set: str
    part: str
    n: int
    exact: float
    coverage: float
    error_rate: float
    #: Median time of one read (the crop decoded and cut beforehand).
    median_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def region_of(entry: Entry) -> Region:
    from models.bench import PREFIX_REGIONS

    prefix = entry.path.rsplit("/", 1)[-1].split("_", 1)[0]
    if prefix not in PREFIX_REGIONS:
        raise ValueError(f"{entry.path}: unknown file-name prefix {prefix!r}")
    return PREFIX_REGIONS[prefix]


def crop_of(shared: Path, entry: Entry) -> Image:
    """The image of ``entry``: a crop, or a frame's labelled box with a margin."""
    image = load_image(shared / entry.path)
    if entry.box is None:
        return image
    x1, y1, x2, y2 = entry.box
    mx, my = int((x2 - x1) * BOX_MARGIN[0]), int((y2 - y1) * BOX_MARGIN[1])
    h, w = image.shape[:2]
    return image[max(0, y1 - my) : min(h, y2 + my), max(0, x1 - mx) : min(w, x2 + mx)]


def net_engine(model: Path, threads: int = 1) -> Engine:
    from models.plate_net import PlateNet

    net = PlateNet(model, threads)

    def run(crop: Image, region: Region) -> tuple[str, float]:
        read = net.read([crop], region)[0]
        return read.text, read.confidence

    return run


def reader_engine(threads: int = 1) -> Engine:
    from models.config import RecognitionConfig
    from models.reader import Models, PlateReader

    models = Models(threads)
    readers: dict[Region, PlateReader] = {}

    def run(crop: Image, region: Region) -> tuple[str, float]:
        if region not in readers:
            readers[region] = PlateReader(RecognitionConfig(region=region, threads=threads), models)
        result = readers[region].read([crop], crops=True)
        return result.text, result.confidence

    return run


def evaluate(
    name: str,
    engine: Engine,
    shared: Path,
    sets: Sequence[DataSet],
    *,
    part: str,
    threshold: float,
) -> list[EvalRow]:
    rows = []
    for s in sets:
        entries = s.part(part)
        if not entries:
            continue
        correct = accepted = wrong_accepted = 0
        times = []
        for entry in entries:
            try:
                crop = crop_of(shared, entry)
            except ImageError:
                text, confidence = "", 0.0
            else:
                start = time.perf_counter()
                text, confidence = engine(crop, region_of(entry))
                times.append((time.perf_counter() - start) * 1000.0)
            right = normalise(text) == entry.plate
            correct += right
            if confidence >= threshold:
                accepted += 1
                wrong_accepted += not right
        n = len(entries)
        rows.append(
            EvalRow(
                name,
                s.name,
                part,
                n,
                round(correct / n, 4),
                round(accepted / n, 4),
                round(wrong_accepted / accepted, 4) if accepted else 0.0,
                round(statistics.median(times), 2) if times else 0.0,
            )
        )
    return rows


COLUMNS = ("engine", "set", "part", "n", "exact", "coverage", "error_rate", "median_ms")


def format_rows(rows: Sequence[EvalRow]) -> str:
    ordered = sorted(rows, key=lambda r: (r.set, r.engine))
    cells = [COLUMNS] + [tuple(str(getattr(r, c)) for c in COLUMNS) for r in ordered]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells
    )
