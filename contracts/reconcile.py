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
    if record.status not in FINAL_STATUSES or record.payment_status == PaymentStatus.REQUESTED:
        return NOTHING
    total = record.fee_total or 0
    if record.references is not None:
        return Contribution(0, total)
    return Contribution(1, total if record.payment_status == PaymentStatus.APPROVED else 0)


def plaza_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


class DayBook:
    """Per-day totals, record by record (each record adds to its day on its own)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._days: dict[date, tuple[int, int, str | None]] = {}

    def add(self, record: Counted) -> None:
        add = contribution(record)
        if add.transactions == 0 and add.revenue == 0:
            return
        day = plaza_day(record.recorded_at, self.tz)
        count, revenue, currency = self._days.get(day, (0, 0, None))
        self._days[day] = (
            count + add.transactions,
            revenue + add.revenue,
            currency or record.currency,
        )

    def forget_before(self, oldest: date) -> None:
        for day in [d for d in self._days if d < oldest]:
            del self._days[day]

    def totals(self) -> list[DayTotal]:
        """Oldest first; days to which nothing was added are left out."""
        return [
            DayTotal(day=day, transactions=count, revenue=revenue, currency=currency)
            for day, (count, revenue, currency) in sorted(self._days.items())
        ]


def day_totals(records: Iterable[Counted], tz: ZoneInfo) -> list[DayTotal]:
    """The totals of ``records`` per plaza-local day, oldest first."""
    book = DayBook(tz)
    for record in records:
        book.add(record)
    return book.totals()
