"""What the fee engine is asked (a passage) and what it answers (an itemised fee)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class QuoteError(ValueError):
    """The passage cannot be priced with this tariff (unknown class, plaza, coupon...)."""


@dataclass(frozen=True, slots=True)
class FeeQuery:
    """What the fee engine is asked: one vehicle's passage. Times must be timezone-aware.

    Times in UTC or with a fixed offset are unambiguous. A time in a zone's own
    wall clock (a ``ZoneInfo``) must be one that clock shows exactly once: the
    engine refuses one it skips or shows twice, whatever its ``fold``
    (:func:`edge.fees.clock.utc_seconds`); :meth:`LocalClock.local_time`
    turns a local wall time into a fixed-offset one, choosing an occurrence
    when told which.

    ``entry`` is ``None`` when the exit has no entry record (lost ticket,
    unmatched plate); ``entry_plaza`` is ``None`` on a highway exit whose entry
    is unknown. ``paid_at``/``paid_amount`` describe an earlier payment of the
    same parking stay (pay station), for the grace period.
    """

    exit: datetime
    entry: datetime | None = None
    vehicle_class: int = 1
    entry_plaza: str | None = None
    exit_plaza: str | None = None
    payment_method: str | None = None
    coupons: tuple[str, ...] = ()
    seats: int | None = None
    paid_at: datetime | None = None
    paid_amount: int = 0


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One line of the engine's itemised fee; a record carries it as
    ``contracts.records.transaction.FeeItem``."""

    label: str
    amount: int


@dataclass(frozen=True, slots=True)
class Fee:
    """An itemised fee; ``total`` is the sum of the item amounts and never negative."""

    items: tuple[FeeLine, ...]
    total: int
    currency: str
    tariff_id: str
    version: int

    def to_json(self) -> dict[str, Any]:
        """The quote as printed by ``lanewarden fees quote --json``."""
        return {
            "items": [{"label": i.label, "amount": i.amount} for i in self.items],
            "total": self.total,
            "currency": self.currency,
            "tariff_id": self.tariff_id,
            "tariff_version": self.version,
        }
