"""``lanewarden bench sync``: lanes → broker → central's workers → PostgreSQL and SQLite."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path

from plumbing.cli import Groups

PG_ENV = "LANEWARDEN_TEST_PG"
EXIT_FAILED = 1
EXIT_USAGE = 2


def register(groups: Groups) -> None:
    parser = groups.group("bench").add_parser(
        "sync",
        help="records per second, lag and drain of lanes syncing through a broker to central",
        description="Simulated lanes (the lane's protocol: consecutive batches of 500, 8 "
        "unacked, resend on timeout) publish through the broker (mosquitto on a free port, "
        "or --broker) to two central worker processes storing into a fresh PostgreSQL "
        f"schema (--pg URL or ${PG_ENV}) and a SQLite file. Reports records stored per second "
        "per database (first publish to last ack), the end-to-end lag p50/p99 at --lanes "
        "lanes sending 2 records a second each, the time one lane takes to drain a backlog "
        "of 30,000 records from its reconnect, and the workers' peak RSS. Records are "
        "sealed before any clock starts.",
    )
    parser.add_argument("--lanes", type=int, default=100, help="simulated lanes (default 100)")
    parser.add_argument(
        "--records", type=int, default=100_000, help="records in all, throughput phase"
    )
    parser.add_argument("--workers", type=int, default=2, help="central worker processes")
    parser.add_argument("--lag-s", type=float, default=10.0, help="seconds of the lag phase")
    parser.add_argument("--drain", type=int, default=30_000, help="records of the backlog")
    parser.add_argument("--pg", metavar="URL", help=f"PostgreSQL server (default ${PG_ENV})")
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite only (lag and drain then on SQLite)"
    )
    parser.add_argument("--broker", metavar="HOST:PORT", help="use this broker (MQTT 5)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from central.bench.services import BenchSetupError, pg_database, sqlite_database
    from central.bench.sync import BenchParams, SyncBench

    try:
        params = BenchParams(
            lanes=args.lanes,
            records=args.records,
            workers=args.workers,
            lag_s=args.lag_s,
            drain=args.drain,
            timeout_s=args.timeout,
            broker=args.broker,
        )
    except ValueError as exc:
        print(f"lanewarden bench sync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    databases: list[tuple[str, AbstractContextManager[str]]] = []
    if not args.sqlite:
        server = args.pg or os.environ.get(PG_ENV)
        if not server:
            print(
                f"lanewarden bench sync: no PostgreSQL: give --pg URL or set {PG_ENV} "
                "(or --sqlite to bench SQLite only)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        databases.append(("postgresql", pg_database(server)))
    databases.append(("sqlite", sqlite_database()))

    def say(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    try:
        figures = SyncBench(params, say).run(databases).as_json()
    except (BenchSetupError, TimeoutError) as exc:
        print(f"lanewarden bench sync: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(table(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


TARGETS = {
    "records_per_s_pg": ("records/s into PostgreSQL", ">= 20000"),
    "records_per_s_sqlite": ("records/s into SQLite", ">= 5000"),
    "lag_p50_ms": ("lag p50 (ms)", ""),
    "lag_p99_ms": ("lag p99 (ms)", "< 500"),
    "drain_30k_s": ("backlog drain (s)", "< 5 (30,000)"),
    "worker_rss_mb": ("worker peak RSS (MB)", "< 150"),
}


def table(figures: dict[str, object]) -> str:
    """The figures beside their targets, one line each."""
    lines = [f"{'figure':<28}{'value':>12}  target"]
    for key, (label, target) in TARGETS.items():
        value = figures[key]
        lines.append(f"{label:<28}{'-' if value is None else value!s:>12}  {target}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m central.commands.bench_sync ...``: the command without its entry point."""
    parser = argparse.ArgumentParser(prog="lanewarden bench")
    register(Groups(parser.add_subparsers(dest="command", required=True)))
    args = parser.parse_args(["bench", "sync", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
