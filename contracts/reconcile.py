"""What a lane's per-day totals count, once, so that the lane and central count alike.

A lane reports, in its telemetry, per plaza-local day, how many transactions it
finished and what they took (:class:`contracts.mqtt.payloads.DayTotal`); central
counts the same from the records it stored, and a difference is an alarm. Both
must apply the same rule to the same records, so the rule is here:

- a transaction counts once, on its *settled* version: a final status (passed,
  voided, unauthorised) with the payment no longer ``requested`` (the lane
  writes no further version of a transaction after that one);
- its revenue is its ``fee_total`` when the payment was approved, else nothing;
- a refund or correction (``references`` set) is not a transaction of its own:
  it adds its ``fee_total`` (zero or negative) to the revenue, and no count;
- the day is the plaza-local date of the version's ``recorded_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from contracts.mqtt.payloads import DayTotal
from contracts.records.vocab import FINAL_STATUSES, PaymentStatus, TxnStatus


class Counted(Protocol):
    """The fields of a transaction record the totals read (a record has them all)."""

    @property
    def recorded_at(self) -> datetime: ...

    @property
    def status(self) -> TxnStatus: ...

    @property
    def payment_status(self) -> PaymentStatus: ...

    @property
    def fee_total(self) -> int | None: ...

    @property
    def references(self) -> object | None: ...

    @property
    def currency(self) -> str | None: ...


@dataclass(frozen=True)
class Contribution:
    """What one record adds to its day."""

    transactions: int
    revenue: int


NOTHING = Contribution(0, 0)


def contribution(record: Counted) -> Contribution:
    """What ``record`` adds to the totals of its day (see the module's rule)."""
    if record.status not in FINAL_STATUSES or record.payment_status is PaymentStatus.REQUESTED:
        return NOTHING
    total = record.fee_total or 0
    if record.references is not None:
        return Contribution(0, total)
    return Contribution(1, total if record.payment_status is PaymentStatus.APPROVED else 0)


def plaza_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_totals(records: Iterable[Counted], tz: ZoneInfo) -> list[DayTotal]:
    """The totals of ``records`` per plaza-local day, oldest first; days with nothing left out."""
    days: dict[date, tuple[int, int, str | None]] = {}
    for record in records:
        add = contribution(record)
        if add is NOTHING:
            continue
        day = plaza_day(record.recorded_at, tz)
        count, revenue, currency = days.get(day, (0, 0, None))
        days[day] = (count + add.transactions, revenue + add.revenue, currency or record.currency)
    return [
        DayTotal(day=day, transactions=count, revenue=revenue, currency=currency)
        for day, (count, revenue, currency) in sorted(days.items())
    ]
