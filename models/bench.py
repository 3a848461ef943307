"""Measuring the reader (and stock RapidOCR) on labelled plate folders.

ROOT holds one folder per set, each with a ``labels.csv``. Sets whose labels
carry box columns (``x1``...) are full frames and the engine gets the whole
frame, never the box; the others are plate crops. An image's region is named
by its file-name prefix, as a lane's configuration would name it.
"""

from __future__ import annotations

import csv
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.config import RecognitionConfig, Region
from models.image import ImageError, load_image
from models.reader import Models, PlateReader
from models.text import normalise
from plumbing import log

PREFIX_REGIONS: dict[str, Region] = {
    "cn": "cn",
    "ccpd": "cn",
    "ccpdg": "cn",
    "us": "us",
    "eu": "eu",
    "br": "br",
}
#: A plate-like OCR line for the baseline: 2 to 10 letters, digits or CJK characters.
_PLATE_LIKE = re.compile(r"^[0-9A-Z\u4e00-\u9fff]{2,10}$")


logger = log.get(__name__)


class BenchError(ValueError):
    """A benchmark folder that does not have the expected layout."""


#: A labelled plate's box in a full frame: x1, y1, x2, y2 in pixels.
Box = tuple[int, int, int, int]
BOX_COLUMNS = ("x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class Sample:
    path: Path
    plate: str
    prefix: str
    crop: bool
    #: Full frames: the labelled plate's box (never shown to the reader).
    box: Box | None = None

    @property
    def region(self) -> Region:
        return PREFIX_REGIONS[self.prefix]


@dataclass(frozen=True)
class Outcome:
    """One image through one engine."""

    correct: bool
    accepted: bool
    ms: float


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table (and one object of ``--json``)."""

    engine: str
    set: str
    prefix: str
    n: int
    exact: float
    coverage: float
    error_rate: float
    median_ms: float
    p95_ms: float
    rss_mb: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def discover(root: Path, only: Sequence[str] | None) -> dict[str, list[Sample]]:
    """The sets under ``root`` (optionally only those named) and their samples."""
    if not root.is_dir():
        raise BenchError(f"{root}: not a directory")
    folders = sorted(p for p in root.iterdir() if (p / "labels.csv").is_file())
    names = [p.name for p in folders]
    if only:
        missing = [s for s in only if s not in names]
        if missing:
            raise BenchError(f"{root}: no set {', '.join(missing)} (have: {', '.join(names)})")
        folders = [p for p in folders if p.name in only]
    if not folders:
        raise BenchError(f"{root}: no folder with a labels.csv")
    return {folder.name: samples(folder) for folder in folders}


def samples(folder: Path) -> list[Sample]:
    """The labelled images of one set folder: crops, or full frames with boxes
    when its ``labels.csv`` has box columns."""
    path = folder / "labels.csv"
    if not path.is_file():
        raise BenchError(f"{folder}: no labels.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if "file" not in fields or "plate" not in fields:
            raise BenchError(f"{path}: needs 'file' and 'plate' columns")
        crop = "x1" not in fields
        missing = [c for c in BOX_COLUMNS if c not in fields]
        if not crop and missing:
            raise BenchError(f"{path}: needs the columns {', '.join(missing)}")
        out = []
        for line, row in enumerate(reader, start=2):
            prefix = row["file"].split("_", 1)[0]
            if prefix not in PREFIX_REGIONS:
                raise BenchError(
                    f"{path}: file {row['file']!r} has prefix {prefix!r}; "
                    f"known prefixes: {', '.join(PREFIX_REGIONS)}"
                )
            box = None if crop else _box(row, f"{path} line {line}")
            out.append(Sample(folder / row["file"], row["plate"], prefix, crop, box))
    return out


def _box(row: dict[str, str], where: str) -> Box:
    try:
        x1, y1, x2, y2 = (int(float(row[c])) for c in BOX_COLUMNS)
    except (TypeError, ValueError):
        raise BenchError(f"{where}: box is not numbers") from None
    return x1, y1, x2, y2


Engine = Callable[[Sample], tuple[str, bool]]


class SharedModels:
    """One set of model sessions for every reader of a benchmark run, loaded when
    first asked for: a second set (for ``--province``) would count in the peak
    resident memory reported as the reader's."""

    def __init__(self) -> None:
        self._models: Models | None = None

    def get(self, config: RecognitionConfig) -> Models:
        if self._models is None:
            self._models = Models(config.threads)
        return self._models


def lanewarden_engine(province: str | None, models: SharedModels) -> Engine:
    """The reader, one configuration per region, on the run's model sessions."""
    readers: dict[Region, PlateReader] = {}

    def run(sample: Sample) -> tuple[str, bool]:
        region = sample.region
        if region not in readers:
            config = RecognitionConfig(region=region, province=province if region == "cn" else None)
            readers[region] = PlateReader(config, models.get(config))
        result = readers[region].read([load_image(sample.path)], crops=sample.crop)
        return result.text, result.accepted

    return run


def baseline_engine(threshold: float) -> Engine:
    """Stock RapidOCR with default settings; the best-scoring plate-like line wins.

    On crops it runs the recogniser alone, as detection finds nothing on them.
    """
    from rapidocr import RapidOCR

    engine = RapidOCR()

    def run(sample: Sample) -> tuple[str, bool]:
        image = load_image(sample.path)
        out: Any
        if sample.crop:
            out = engine(image, use_det=False, use_cls=False, use_rec=True)
        else:  # explicit: RapidOCR keeps the flags of its previous call
            out = engine(image, use_det=True, use_cls=True, use_rec=True)
        lines = [
            (normalise(t), float(s)) for t, s in zip(out.txts or (), out.scores or (), strict=True)
        ]
        plate_like = [line for line in lines if _PLATE_LIKE.match(line[0])]
        pool = plate_like or lines
        if not pool:
            return "", False
        text, score = max(pool, key=lambda line: line[1])
        return text, score >= threshold

    return run


def run_engine(engine: Engine, samples: Sequence[Sample]) -> Iterator[tuple[Sample, Outcome]]:
    for sample in samples:
        start = time.perf_counter()
        try:
            text, accepted = engine(sample)
        except ImageError as exc:
            logger.warning("bench_image_unreadable", file=str(sample.path), error=str(exc))
            text, accepted = "", False
        ms = (time.perf_counter() - start) * 1000.0
        yield sample, Outcome(normalise(text) == normalise(sample.plate), accepted, ms)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def summarise(engine: str, set_name: str, prefix: str, outcomes: Sequence[Outcome]) -> Row:
    n = len(outcomes)
    accepted = [o for o in outcomes if o.accepted]
    times = [o.ms for o in outcomes]
    return Row(
        engine=engine,
        set=set_name,
        prefix=prefix,
        n=n,
        exact=round(sum(o.correct for o in outcomes) / n, 4) if n else 0.0,
        coverage=round(len(accepted) / n, 4) if n else 0.0,
        error_rate=round(sum(not o.correct for o in accepted) / len(accepted), 4)
        if accepted
        else 0.0,
        median_ms=round(statistics.median(times), 1) if times else 0.0,
        p95_ms=round(float(np.percentile(times, 95)), 1) if times else 0.0,
        rss_mb=round(peak_rss_mb(), 1),
    )


def bench_set(
    engine_name: str, engine: Engine, set_name: str, samples: Sequence[Sample]
) -> list[Row]:
    """Rows for the whole set (prefix ``ALL``) and for each prefix in it."""
    outcomes = list(run_engine(engine, samples))
    prefixes = sorted({s.prefix for s, _ in outcomes})
    rows = [summarise(engine_name, set_name, "ALL", [o for _, o in outcomes])]
    if len(prefixes) > 1:
        rows += [
            summarise(engine_name, set_name, p, [o for s, o in outcomes if s.prefix == p])
            for p in prefixes
        ]
    return rows


COLUMNS = (
    "engine",
    "set",
    "prefix",
    "n",
    "exact",
    "coverage",
    "error_rate",
    "median_ms",
    "p95_ms",
    "rss_mb",
)


def format_table(rows: Sequence[Row]) -> str:
    """Rows grouped by set and prefix, engines side by side, as aligned text."""
    order = {name: i for i, name in enumerate(dict.fromkeys(r.engine for r in rows))}
    ordered = sorted(rows, key=lambda r: (r.set, r.prefix != "ALL", r.prefix, order[r.engine]))
    cells = [COLUMNS] + [tuple(str(getattr(r, c)) for c in COLUMNS) for r in ordered]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells
    )
