"""``lanewarden plates read``, ``lanewarden plates scenes`` and ``lanewarden bench plates``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plumbing.cli import Groups

REGIONS = ("cn", "us", "eu", "br")


def register(groups: Groups) -> None:
    from models.training import commands as training

    training.register(groups)
    read = groups.group("plates").add_parser(
        "read",
        help="read the plate in each image",
        description="Read the plate in each image (a full frame, or a plate crop with --crop) "
        "and print its text, confidence, type and box. Exit status 1 when an image cannot be "
        "loaded.",
    )
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    read.add_argument(
        "--region",
        choices=REGIONS,
        help="plate grammar; by default the file-name prefix (cn_, ccpd_, us_, eu_, br_)",
    )
    read.add_argument("--province", help="local province character for Chinese lanes (e.g. 皖)")
    read.add_argument("--crop", action="store_true", help="the images are plate crops")
    read.add_argument("--json", action="store_true", help="print one JSON object per image")
    read.set_defaults(func=run_read)

    scenes = groups.group("plates").add_parser(
        "scenes",
        help="make full frames of plates seen at an angle from crops and frames",
        description="Paste each labelled plate crop of CROPS, turned (up to 18 degrees) and "
        "sheared at random, over the labelled plate of a frame of FRAMES drawn at random (that "
        "plate blurred away), and write the frames with a labels.csv holding each pasted "
        "plate's box into a new set folder under OUT, which `lanewarden bench plates OUT` "
        "reads. The crops' file names (and so their regions) are kept.",
    )
    scenes.add_argument("crops", type=Path, metavar="CROPS", help="folder of crops with labels.csv")
    scenes.add_argument(
        "frames",
        type=Path,
        metavar="FRAMES",
        help="folder of full frames with labels.csv and boxes",
    )
    scenes.add_argument("out", type=Path, metavar="OUT", help="folder to write the set under")
    scenes.add_argument("--seed", type=int, default=0, help="random draw (default 0)")
    scenes.set_defaults(func=run_scenes)

    bench = groups.group("bench").add_parser(
        "plates",
        help="plate accuracy, coverage, error rate and speed on labelled folders",
        description="Run the reader on every set under ROOT (a folder per set with labels.csv; "
        "sets with box columns are full frames, the others crops) and print per set and per "
        "file-name prefix: n, exact accuracy, coverage and error rate at the default "
        "threshold, median and p95 milliseconds, peak RSS.",
    )
    bench.add_argument("root", type=Path, metavar="ROOT")
    bench.add_argument("--sets", help="comma-separated set folders to run (default: all)")
    bench.add_argument(
        "--baseline", action="store_true", help="also run stock RapidOCR on the same images"
    )
    bench.add_argument(
        "--province", help="also run the reader with this local province on Chinese images"
    )
    bench.add_argument(
        "--json", type=Path, metavar="FILE", help="write the rows as a JSON list of objects"
    )
    bench.set_defaults(func=run_bench)


def run_read(args: argparse.Namespace) -> int:
    from models.bench import PREFIX_REGIONS
    from models.config import RecognitionConfig
    from models.image import ImageError, load_image
    from models.reader import PlateReader
    from models.runtime import ModelLoadError

    readers: dict[str, PlateReader] = {}
    failed = 0
    for path in args.images:
        region = args.region or PREFIX_REGIONS.get(path.name.split("_", 1)[0])
        if region is None:
            print(f"{path}: cannot tell the region from the name; give --region", file=sys.stderr)
            failed += 1
            continue
        try:
            image = load_image(path)
            if region not in readers:
                config = RecognitionConfig(region=region, province=args.province)
                shared = next(iter(readers.values())).models if readers else None
                readers[region] = PlateReader(config, shared)
            result = readers[region].read([image], crops=args.crop)
        except (ImageError, ModelLoadError) as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps({"file": str(path), **result.as_dict()}, ensure_ascii=False))
        else:
            status = "accepted" if result.accepted else f"unreadable ({result.reason})"
            box = _box(result.quad)
            print(
                f"{path}: {result.text or '-'}  confidence {result.confidence:.2f} "
                f"(min {result.min_confidence:.2f}, mean {result.mean_confidence:.2f})  "
                f"{result.plate_type}  box {box}  {status}"
                + ("  [leaned on local province]" if result.province_prior_used else "")
            )
    return 1 if failed else 0


def run_scenes(args: argparse.Namespace) -> int:
    from models.bench import BenchError
    from models.image import ImageError
    from models.scenes import write_set

    try:
        count, folder = write_set(args.crops, args.frames, args.out, args.seed)
    except (BenchError, ImageError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{count} frames written to {folder}")
    return 0


def _box(quad: object) -> str:
    if not isinstance(quad, tuple):
        return "-"
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    return f"{min(xs):.0f},{min(ys):.0f},{max(xs):.0f},{max(ys):.0f}"


def run_bench(args: argparse.Namespace) -> int:
    from models.bench import (
        BenchError,
        Row,
        SharedModels,
        baseline_engine,
        bench_set,
        discover,
        format_table,
        lanewarden_engine,
    )
    from models.config import RecognitionConfig

    only = [s.strip() for s in args.sets.split(",") if s.strip()] if args.sets else None
    try:
        sets = discover(args.root, only)
    except BenchError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    threshold = float(RecognitionConfig.model_fields["threshold"].default)
    rows: list[Row] = []
    models = SharedModels()
    engine = lanewarden_engine(None, models)
    for name, samples in sets.items():
        rows += bench_set("lanewarden", engine, name, samples)
    if args.province:
        local = lanewarden_engine(args.province, models)
        for name, samples in sets.items():
            cn = [s for s in samples if s.region == "cn"]
            if cn:
                rows += bench_set("lanewarden+province", local, name, cn)
    if args.baseline:
        base = baseline_engine(threshold)
        for name, samples in sets.items():
            rows += bench_set("baseline", base, name, samples)
    print(format_table(rows))
    if args.json:
        args.json.write_text(
            json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return 0
