"""``lanewarden plates manifest``, ``plates train`` and ``plates eval`` (registered by models.commands)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plumbing.cli import Groups

DEFAULT_SHARED = Path("../shared")


def register(groups: Groups) -> None:
    plates = groups.group("plates")
    manifest = plates.add_parser(
        "manifest",
        help="write (or check) the training data manifest",
        description="Read every real labelled set under SHARED (datasets/ and plates-train/), "
        "split it into train and validation by plate string, and write the manifest the "
        "training reads (default: the one in the package). With --check, only compare: exit "
        "status 1 when the file differs from what the sets give.",
    )
    manifest.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="default: ../shared")
    manifest.add_argument("--out", type=Path, help="manifest file (default: the package's)")
    manifest.add_argument("--check", action="store_true", help="compare instead of writing")
    manifest.set_defaults(func=run_manifest)

    train = plates.add_parser(
        "train",
        help="train the plate recogniser (needs the train extra: torch)",
        description="Train the CTC plate recogniser on rendered plates and the train parts of "
        "the manifest, on THREADS CPU threads with a fixed seed, checkpointing into OUT "
        "(checkpoint.pt, plate_net.onnx, train.log). Needs the Debian fonts named in the README "
        "unless --font is given.",
    )
    train.add_argument("out", type=Path, metavar="OUT", help="folder for checkpoints and logs")
    train.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="default: ../shared")
    train.add_argument("--steps", type=int, default=9000, help="optimiser steps (default 9000)")
    train.add_argument("--batch", type=int, default=32, help="crops per step (default 32)")
    train.add_argument("--seed", type=int, default=0, help="default 0")
    train.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    train.add_argument(
        "--real-share", type=float, default=0.15, help="share of real crops (default 0.15)"
    )
    train.add_argument("--checkpoint-every", type=int, default=500, help="steps (default 500)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--font", type=Path, help="draw every plate with this one font")
    train.set_defaults(func=run_train)

    evaluate = plates.add_parser(
        "eval",
        help="exact reads of a plate model on the manifest's validation parts",
        description="Read the validation part (or --part train) of every manifest set with "
        "MODEL (crops as they are, full frames on their labelled box) and print per set: n, "
        "exact, and coverage and error among accepted at --threshold. --reader also runs the "
        "current plate reader on the same crops.",
    )
    evaluate.add_argument("model", type=Path, metavar="MODEL", help="an exported plate_net.onnx")
    evaluate.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="default: ../shared")
    evaluate.add_argument("--part", choices=("train", "validation"), default="validation")
    evaluate.add_argument("--sets", help="comma-separated set names (default: all)")
    evaluate.add_argument("--threshold", type=float, default=0.9, help="default 0.9")
    evaluate.add_argument("--reader", action="store_true", help="also run the current reader")
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="write the rows as JSON")
    evaluate.set_defaults(func=run_eval)


def run_manifest(args: argparse.Namespace) -> int:
    from models.training import manifest

    out = args.out or manifest.MANIFEST
    try:
        sets = manifest.build(args.shared)
    except manifest.ManifestError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    problems = manifest.check(sets)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    text = manifest.to_json(sets)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            print(f"{out}: differs from the sets under {args.shared}", file=sys.stderr)
            return 1
        print(f"{out}: up to date")
        return 0
    out.write_text(text, encoding="utf-8")
    for s in sets:
        print(f"{s.name}: {len(s.train)} train, {len(s.validation)} validation")
    return 0


def run_train(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("training needs torch: pip install 'lanewarden[train]'", file=sys.stderr)
        return 2
    import os

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))  # before torch is imported
    from models.training.fonts import FontError
    from models.training.manifest import ManifestError
    from models.training.strings import StringError
    from models.training.train import TrainConfig, train

    config = TrainConfig(
        out=args.out,
        shared=args.shared,
        steps=args.steps,
        batch=args.batch,
        seed=args.seed,
        threads=args.threads,
        real_share=args.real_share,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        font=args.font,
    )
    try:
        model = train(config)
    except (FontError, ManifestError, StringError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"model written to {model}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from models.config import RecognitionConfig
    from models.runtime import ModelLoadError
    from models.training import evaluate, manifest

    try:
        sets = manifest.load()
    except manifest.ManifestError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.sets:
        wanted = {s.strip() for s in args.sets.split(",") if s.strip()}
        unknown = sorted(wanted - {s.name for s in sets})
        if unknown:
            print(f"no set {', '.join(unknown)} in the manifest", file=sys.stderr)
            return 2
        sets = [s for s in sets if s.name in wanted]
    try:
        engine = evaluate.net_engine(args.model)
        rows = evaluate.evaluate(
            "plate_net", engine, args.shared, sets, part=args.part, threshold=args.threshold
        )
        if args.reader:  # at the reader's own default threshold
            threshold = float(RecognitionConfig.model_fields["threshold"].default)
            reader = evaluate.reader_engine()
            rows += evaluate.evaluate(
                "reader", reader, args.shared, sets, part=args.part, threshold=threshold
            )
    except ModelLoadError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(evaluate.format_rows(rows))
    if args.json:
        args.json.write_text(
            json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return 0
