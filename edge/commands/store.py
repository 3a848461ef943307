"""``lanewarden store verify DB`` and ``store write-head DB``: a store's chains and its head file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plumbing.cli import Groups

EXIT_BROKEN = 1
EXIT_UNUSABLE = 2


def register(groups: Groups) -> None:
    store = groups.group("store")
    verify = store.add_parser(
        "verify",
        help="check the sequence and hash chain of every lane in a store",
        description="Check every lane's transactions and events in a store file: no gap in "
        "lane_seq, each record's hash matches its content, each prev_hash is its "
        "predecessor's hash, each column is as the store writes it, and every head reaches "
        "as far as the head file beside the store (DB-head) says it did. Prints OK and exits "
        "0, or prints the first broken record (lane, lane_seq, what broke) of each lane and "
        f"each head that falls short, and exits {EXIT_BROKEN}. Exits {EXIT_UNUSABLE} when the "
        "file is missing, damaged or not a lanewarden store. Changes none of the store's files.",
    )
    verify.add_argument("db", type=Path, metavar="DB", help="the store's SQLite file")
    verify.set_defaults(func=run)
    write_head = store.add_parser(
        "write-head",
        help="write a store's head file from the store as it is",
        description="Write the head file (DB-head) from the store's heads as they are now, "
        "after checking every chain as verify does. For a store from a release without head "
        "files, or one restored from a backup on purpose: a lane refuses to start on a store "
        "whose head file is missing or records more than the store holds, and after this "
        "its next records continue from the store's heads (records lost from a tail get "
        f"their lane_seq again; central's copy is the one to trust). Exits {EXIT_BROKEN} when a "
        f"chain is broken, {EXIT_UNUSABLE} when the file is missing, damaged or not a store.",
    )
    write_head.add_argument("db", type=Path, metavar="DB", help="the store's SQLite file")
    write_head.set_defaults(func=run_write_head)


def run(args: argparse.Namespace) -> int:
    from edge.store import SchemaError, StoreError
    from edge.store.verify import verify

    try:
        report = verify(args.db)
    except (StoreError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    counts = ", ".join(f"{n} {stream}" for stream, n in report.checked.items())
    if report.ok:
        lanes = len(report.lanes)
        print(f"OK: {args.db}: {lanes} lane{'' if lanes == 1 else 's'}, {counts} records verified")
        return 0
    for broken in report.breaks:
        print(f"BROKEN: {args.db}: {broken}")
    for problem in report.head_problems:
        print(f"BROKEN: {args.db}: {problem}")
    print(
        f"{len(report.breaks)} broken chains, {len(report.head_problems)} head file problems "
        f"in {args.db} ({counts} records checked)"
    )
    return EXIT_BROKEN


def run_write_head(args: argparse.Namespace) -> int:
    from edge.store import SchemaError, StoreError
    from edge.store.db import read_only
    from edge.store.head import head_file, read_heads, replace_head_file
    from edge.store.verify import verify

    try:
        report = verify(args.db)
        if report.breaks:
            for broken in report.breaks:
                print(f"BROKEN: {args.db}: {broken}")
            print(f"head file not written: {len(report.breaks)} broken chains in {args.db}")
            return EXIT_BROKEN
        with read_only(args.db) as conn:
            heads = read_heads(conn)
    except (StoreError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    for problem in report.head_problems:
        print(f"replaced: {problem}")
    path = head_file(args.db)
    try:
        replace_head_file(path, heads)
    except OSError as exc:
        print(f"error: {path}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    for head in heads:
        print(f"{head}: lane_seq {head.last_seq} (hash {head.last_hash[:12]})")
    print(f"wrote {path}: {len(heads)} heads")
    return 0
