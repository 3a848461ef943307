"""``lanewarden config check FILE...``: validate configuration files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.config.loading import load_any
from plumbing.cli import Groups
from plumbing.config import ConfigError


def register(groups: Groups) -> None:
    parser = groups.group("config").add_parser(
        "check",
        help="validate configuration files",
        description="Validate lane, plaza, network, tariff and central files (the kind is the "
        "file's top-level `kind` key). A lane file is checked together with the plaza and tariff "
        "files it refers to. Exit status 1 when any file has an error.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.set_defaults(func=run)


def check_file(path: Path) -> list[str]:
    """Problems of one file (empty when valid)."""
    from edge.config.lane import load_lane

    try:
        model = load_any(path)
        if getattr(model, "kind", None) == "lane":
            load_lane(path)
    except ConfigError as exc:
        return exc.problems
    return []


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        problems = check_file(path)
        if problems:
            failed += 1
            for line in problems:
                print(line, file=sys.stderr)
        else:
            print(f"{path}: ok")
    if failed:
        print(f"{failed} of {len(args.files)} files have errors", file=sys.stderr)
        return 1
    return 0
