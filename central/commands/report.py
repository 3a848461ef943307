"""``lanewarden central report --day YYYY-MM-DD``: a day's revenue and traffic from the store."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from central.commands.opening import (
    EXIT_CONFIG,
    EXIT_FAILED,
    CommandFailedError,
    load_config,
    open_store,
)
from central.reports.groups import BY
from plumbing.cli import Groups

MAX_DAYS = 366


def plaza_day(text: str) -> date:
    """``--day``'s value: a calendar date written YYYY-MM-DD."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a day written YYYY-MM-DD (e.g. 2026-12-04)"
        ) from None


def register(groups: Groups) -> None:
    parser = groups.group("central").add_parser(
        "report",
        help="revenue and traffic of a day, by plaza, lane, class, payment method, hour or day",
        description="Print the revenue and traffic of one plaza-local day (or --day to --to) from "
        "central's database, grouped by plaza, lane, vehicle class, payment method, hour or "
        "day (plaza time; "
        "each plaza's zone is its [plazas.ID] timezone in the config, UTC when not listed). "
        "Counted as the lanes count their day totals: a settled transaction once, revenue when "
        "paid, refunds subtracted. --csv FILE also writes the rows as CSV. "
        f"Exit status: 0 done, {EXIT_FAILED} the database cannot be read, "
        f"{EXIT_CONFIG} the configuration is invalid.",
    )
    parser.add_argument(
        "--day", required=True, type=plaza_day, metavar="YYYY-MM-DD", help="the plaza-local day"
    )
    parser.add_argument(
        "--to",
        type=plaza_day,
        metavar="YYYY-MM-DD",
        help=f"the last day of a range from --day (inclusive, at most {MAX_DAYS} days)",
    )
    parser.add_argument("--by", choices=BY, default="lane", help="grouping (default lane)")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the rows as CSV")
    parser.add_argument(
        "--config",
        default="config/central.toml",
        metavar="FILE",
        help="central's file (default config/central.toml)",
    )
    parser.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from central.reports.revenue import days_report, table, write_csv

    first: date = args.day
    last: date = args.to or first
    if last < first:
        print(f"lanewarden central report: --to: {last} is before --day {first}", file=sys.stderr)
        return 2
    if (last - first).days >= MAX_DAYS:
        print(
            f"lanewarden central report: --to: {(last - first).days + 1} days, "
            f"more than {MAX_DAYS}",
            file=sys.stderr,
        )
        return 2

    prog = "lanewarden central report"
    try:
        config = load_config(prog, args.config)
        store = open_store(prog, config, create=False)
    except CommandFailedError as exc:
        return exc.code
    try:
        rows = days_report(store.engine, first, last, args.by, config.plaza_tz)
    except SQLAlchemyError as exc:
        print(f"lanewarden central report: cannot read the database: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    days = first.isoformat() if last == first else f"{first.isoformat()}..{last.isoformat()}"
    if rows:
        print(table(rows, args.by, days))
    else:
        print(f"no transactions on {days}")
    if args.csv is not None:
        try:
            with args.csv.open("w", encoding="utf-8", newline="") as out:
                write_csv(rows, out)
        except OSError as exc:
            print(
                f"lanewarden central report: --csv: cannot write {args.csv}: {exc}", file=sys.stderr
            )
            return EXIT_FAILED
    return 0
