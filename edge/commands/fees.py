"""``lanewarden fees quote``: price one passage with a tariff file."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from plumbing.cli import Groups

if TYPE_CHECKING:
    from edge.fees.clock import LocalClock


def register(groups: Groups) -> None:
    parser = groups.group("fees").add_parser(
        "quote",
        help="price one passage and print the itemised fee",
        description="Price one passage with a tariff file and print the itemised fee. Times are "
        "ISO 8601 (2026-11-20T08:00); without an offset they are local to the tariff's time "
        "zone, and a local time the clocks skip or show twice is refused (see --fold). Times "
        "lie in the years 1970 to 2199. Exit status 1 when the tariff file is invalid or the "
        "passage cannot be priced (a stay longer than the tariff's max_stay_days included), "
        "2 for bad arguments (bad times included).",
    )
    parser.add_argument("--tariff", required=True, type=Path, metavar="FILE", help="tariff file")
    parser.add_argument(
        "--class",
        dest="vehicle_class",
        type=int,
        default=1,
        metavar="N",
        help="vehicle class number (default: 1, small passenger car)",
    )
    parser.add_argument("--entry", type=_time, metavar="T", help="entry time (parking)")
    parser.add_argument(
        "--exit", required=True, type=_time, metavar="T", help="exit (or passage) time"
    )
    parser.add_argument(
        "--unknown-entry",
        action="store_true",
        help="the exit has no entry record: lost-ticket fee (parking), "
        "longest-distance fare (highway)",
    )
    parser.add_argument("--entry-plaza", metavar="P", help="highway entry plaza id")
    parser.add_argument("--exit-plaza", metavar="P", help="highway exit plaza id")
    parser.add_argument(
        "--payment-method", metavar="M", help="payment method, e.g. etc, account, cash"
    )
    parser.add_argument(
        "--coupon",
        action="append",
        default=[],
        metavar="CODE",
        help="coupon code accepted by the tariff (repeatable; applied in the documented order)",
    )
    parser.add_argument(
        "--seats", type=int, metavar="N", help="seats of the vehicle (highway holiday free passage)"
    )
    parser.add_argument(
        "--paid-at", type=_time, metavar="T", help="time of an earlier payment for this stay"
    )
    parser.add_argument(
        "--paid",
        type=int,
        default=0,
        metavar="AMOUNT",
        help="amount already paid for this stay, in minor units",
    )
    parser.add_argument(
        "--fold",
        type=int,
        choices=(0, 1),
        metavar="0|1",
        help="for a local time the clocks show twice (the hour repeated when they go back): "
        "0 the first occurrence, 1 the second. Without it such a time is refused, and so is "
        "a local time the clocks skip; a time with a UTC offset needs neither",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"items": [{"label": ..., "amount": ...}], "total": ..., "currency": ..., '
        '"tariff_id": ..., "tariff_version": ...}',
    )
    parser.set_defaults(func=run)


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-11-20T08:00)"
        ) from None


def _instant(clock: LocalClock, moment: datetime, option: str, fold: int | None) -> datetime:
    """An argument's time: local to the tariff's zone without an offset; checked either way."""
    from edge.fees.clock import utc_seconds

    if moment.tzinfo is None:
        return clock.local_time(moment, option, fold)
    utc_seconds(moment, option)
    return moment


def _usage_error(message: str) -> int:
    print(f"lanewarden fees quote: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from contracts.money import format_amount
    from edge.fees.engine import quote
    from edge.fees.files import load_tariff
    from edge.fees.passage import FeeQuery, QuoteError
    from plumbing.config import ConfigError

    try:
        tariff = load_tariff(args.tariff)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 1
    scheme = tariff.source.versions[0].scheme
    if args.unknown_entry and (args.entry is not None or args.entry_plaza is not None):
        return _usage_error("--unknown-entry contradicts --entry / --entry-plaza")
    if scheme == "parking" and args.entry is None and not args.unknown_entry:
        return _usage_error("--entry is required for a parking tariff (or --unknown-entry)")
    if scheme == "highway" and args.entry_plaza is None and not args.unknown_entry:
        return _usage_error("--entry-plaza is required for a highway tariff (or --unknown-entry)")
    if args.paid < 0:
        return _usage_error(f"--paid must not be negative, got {args.paid}")

    times: dict[str, datetime | None] = {}
    for option, moment in (
        ("--entry", args.entry),
        ("--exit", args.exit),
        ("--paid-at", args.paid_at),
    ):
        try:
            times[option] = (
                None if moment is None else _instant(tariff.clock, moment, option, args.fold)
            )
        except QuoteError as exc:
            return _usage_error(str(exc))
    exit_ = times["--exit"]
    assert exit_ is not None  # --exit is required
    passage = FeeQuery(
        exit=exit_,
        entry=times["--entry"],
        vehicle_class=args.vehicle_class,
        entry_plaza=args.entry_plaza,
        exit_plaza=args.exit_plaza,
        payment_method=args.payment_method,
        coupons=tuple(args.coupon),
        seats=args.seats,
        paid_at=times["--paid-at"],
        paid_amount=args.paid,
    )
    try:
        fee = quote(tariff, passage)
    except QuoteError as exc:
        print(f"cannot price this passage: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(fee.to_json(), ensure_ascii=False))
        return 0
    print(f"{tariff.id} version {fee.version}, class {passage.vehicle_class}")
    width = max(len(item.label) for item in fee.items)
    for item in fee.items:
        print(f"  {item.label:<{width}}  {format_amount(item.amount, fee.currency):>14}")
    print(f"  {'total':<{width}}  {format_amount(fee.total, fee.currency):>14}")
    return 0
