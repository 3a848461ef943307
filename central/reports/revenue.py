"""Revenue and traffic of one plaza-local day, grouped one way, as rows, a table or CSV.

Traffic is the number of transactions (a settled passage, paid or not, counts once;
a refund or correction counts none) and revenue their takings in minor units
(refunds subtract): exactly the lanes' day totals, so that a report of a lane's
day equals what the lane itself reported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TextIO

from sqlalchemy import Engine

from central.reports.groups import BY, By
from central.reports.settled import Settled, ZoneOf, settled_on
from contracts.money import format_amount
from contracts.reconcile import contribution

HEADER = ("day", "plaza", "group", "transactions", "revenue_minor", "currency", "revenue")


@dataclass(frozen=True)
class ReportRow:
    day: date
    plaza_id: str
    group: str
    """The lane, class, method, hour (HH:00 plaza time) or day; the plaza for ``plaza``."""
    transactions: int
    revenue: int
    """Minor units of ``currency``."""
    currency: str | None

    def cells(self) -> tuple[str, ...]:
        shown = format_amount(self.revenue, self.currency) if self.currency else str(self.revenue)
        return (
            self.day.isoformat(),
            self.plaza_id,
            self.group,
            str(self.transactions),
            str(self.revenue),
            self.currency or "",
            shown,
        )


def _group(record: Settled, by: By, zone_of: ZoneOf) -> str:
    if by == "plaza":
        return record.plaza_id
    if by == "lane":
        return record.lane_id
    if by == "class":
        return "-" if record.vehicle_class is None else str(record.vehicle_class)
    if by == "method":
        return record.payment_method or "-"
    if by == "day":
        return record.recorded_at.astimezone(zone_of(record.plaza_id)).date().isoformat()
    return f"{record.recorded_at.astimezone(zone_of(record.plaza_id)).hour:02d}:00"


def aggregate(records: Iterable[Settled], day: date, by: By, zone_of: ZoneOf) -> list[ReportRow]:
    """Rows of ``day`` by plaza and group, sorted; groups nothing was added to are left out.

    A row's currency is its records' (a plaza takes one currency; an unpaid record has
    none), taken as the lanes' DayBook takes it.
    """
    if by not in BY:
        raise ValueError(f"by: {by!r} is not one of {', '.join(BY)}")
    sums: dict[tuple[str, str], tuple[int, int, str | None]] = {}
    for record in records:
        add = contribution(record)
        if add.transactions == 0 and add.revenue == 0:
            continue
        key = (record.plaza_id, _group(record, by, zone_of))
        count, revenue, currency = sums.get(key, (0, 0, None))
        sums[key] = (count + add.transactions, revenue + add.revenue, currency or record.currency)
    return [
        ReportRow(day, plaza, group, count, revenue, currency)
        for (plaza, group), (count, revenue, currency) in sorted(sums.items())
    ]


def day_report(engine: Engine, day: date, by: By, zone_of: ZoneOf) -> list[ReportRow]:
    """The report of plaza-local ``day`` from the store behind ``engine``."""
    with engine.connect() as connection:
        return aggregate(settled_on(connection, day, zone_of), day, by, zone_of)


def days_report(
    engine: Engine, first: date, last: date, by: By, zone_of: ZoneOf
) -> list[ReportRow]:
    """The reports of ``first`` .. ``last`` (inclusive), day after day."""
    if last < first:
        raise ValueError(f"last: {last} is before the first day {first}")
    rows: list[ReportRow] = []
    day = first
    while day <= last:
        rows.extend(day_report(engine, day, by, zone_of))
        day += timedelta(days=1)
    return rows


def write_csv(rows: Iterable[ReportRow], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(row.cells())


def table(rows: list[ReportRow], by: By, days: str) -> str:
    """A plain-text table with a total line per currency (over ``days``, its day cell).

    Rows with no currency (only unpaid passages) count in the total of the one
    currency when there is one.
    """
    header = (*HEADER[:2], by, *HEADER[3:])
    body = [row.cells() for row in rows]
    currencies = {row.currency for row in rows if row.currency}
    only = next(iter(currencies)) if len(currencies) == 1 else None
    totals: dict[str | None, tuple[int, int]] = {}
    for row in rows:
        currency = row.currency or only
        count, revenue = totals.get(currency, (0, 0))
        totals[currency] = (count + row.transactions, revenue + row.revenue)
    for currency, (count, revenue) in sorted(totals.items(), key=lambda i: i[0] or ""):
        cells = ReportRow(rows[0].day, "total", "", count, revenue, currency).cells()
        body.append((days, *cells[1:]))
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [header, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)
