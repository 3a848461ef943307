"""The fee engine: ``quote(tariff, passage) -> Fee``. Pure: no clock reads, no I/O.

A :class:`CompiledTariff` is built once from a validated :class:`Tariff` (and,
for a highway tariff, its network); quoting then does integer arithmetic only,
on times counted to the second. The version in force at the exit prices the
whole passage (so a stay can cost less when a cheaper version starts before
it ends).

Times are checked first (:func:`edge.fees.clock.utc_seconds`: aware, in the
years the engine prices, and never a local time the clocks skip or show twice);
a parking stay longer than its version's ``max_stay_days`` is refused.

Discounts and coupons apply in this order, each to the running total:

1. free-minute coupons shorten a parking stay before it is priced (they end
   the billed stay earlier);
2. the scheme prices the passage (caps, maximum per stay, minimum fee,
   holiday free passage);
3. the payment method's percentage discount;
4. percentage coupons, in the order the passage lists them;
5. fixed-amount coupons, in that order;
6. (parking) what was already paid for the stay. Leaving within the grace
   period after that payment costs nothing more.

Percentages are rounded by the tariff's ``discount_rounding``; no step takes
the total below zero.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from contracts.money import percent_of
from contracts.network import Network
from contracts.tariff import Coupon, Tariff, TariffVersion
from edge.fees.clock import LocalClock, utc_seconds
from edge.fees.flat import FlatPricing
from edge.fees.highway import HighwayPricing
from edge.fees.parking import DAY_S, ParkingPricing
from edge.fees.passage import Fee, FeeLine, FeeQuery, QuoteError

Pricing = ParkingPricing | HighwayPricing | FlatPricing


@dataclass(frozen=True, slots=True)
class CompiledVersion:
    version: int
    start: int  # UTC seconds
    pricing: Pricing
    payment_discounts: Mapping[str, Decimal]


class CompiledTariff:
    """A tariff ready for quoting: versions sorted, bands and holidays precomputed."""

    def __init__(self, tariff: Tariff, networks: Mapping[str, Network]) -> None:
        self.source = tariff
        self.id = tariff.id
        self.currency = tariff.currency
        self.clock = LocalClock(tariff.timezone)
        self.holidays: dict[int, str] = {}
        for holiday in tariff.holidays:
            for day in range((holiday.last - holiday.first).days + 1):
                self.holidays[(holiday.first + timedelta(days=day)).toordinal()] = holiday.name
        self.coupons = {coupon.code: coupon for coupon in tariff.coupons}
        self.discount_rounding = tariff.discount_rounding
        self.versions = [
            CompiledVersion(
                version=v.version,
                start=int(start.timestamp()),
                pricing=_pricing(v, self.clock, self.holidays, networks),
                payment_discounts=dict(v.payment_discounts),
            )
            for v, start in zip(tariff.versions, tariff.version_starts(), strict=True)
        ]
        self.starts = [v.start for v in self.versions]

    def version_at(self, exit_: int) -> CompiledVersion:
        index = bisect_right(self.starts, exit_) - 1
        if index < 0:
            first = self.clock.local_text(self.starts[0])
            raise QuoteError(
                f"no version of tariff {self.id} is in force at {self.clock.local_text(exit_)} "
                f"(the first takes effect {first})"
            )
        return self.versions[index]

    def coupon(self, code: str) -> Coupon:
        coupon = self.coupons.get(code)
        if coupon is None:
            known = ", ".join(sorted(self.coupons)) or "none"
            raise QuoteError(
                f"coupon {code!r} is not accepted by tariff {self.id} (accepted: {known})"
            )
        return coupon


def _pricing(
    version: TariffVersion,
    clock: LocalClock,
    holidays: Mapping[int, str],
    networks: Mapping[str, Network],
) -> Pricing:
    if version.parking is not None:
        return ParkingPricing(version.parking, clock, holidays)
    if version.highway is not None:
        network = networks.get(version.highway.network)
        if network is None:
            raise ValueError(f"network {version.highway.network!r} was not supplied")
        return HighwayPricing(version.highway, network, holidays)
    if version.flat is not None:
        return FlatPricing(version.flat)
    raise ValueError(f"version {version.version} has no scheme")


def compile_tariff(tariff: Tariff, networks: Mapping[str, Network] | None = None) -> CompiledTariff:
    """Prepare a validated tariff for quoting; ``networks`` maps each highway
    version's ``network`` path to the loaded network."""
    return CompiledTariff(tariff, networks or {})


def quote(tariff: CompiledTariff, passage: FeeQuery) -> Fee:
    """The itemised fee of ``passage`` under the version of ``tariff`` in force at its exit."""
    exit_ = utc_seconds(passage.exit, "exit time")
    entry = None if passage.entry is None else utc_seconds(passage.entry, "entry time")
    if entry is not None and entry > exit_:
        raise QuoteError(f"entry {passage.entry} is after exit {passage.exit}")
    if passage.paid_amount < 0:
        raise QuoteError(f"paid amount must not be negative, got {passage.paid_amount}")
    if len(set(passage.coupons)) != len(passage.coupons):
        raise QuoteError(f"a coupon is given more than once: {', '.join(passage.coupons)}")
    coupons = [tariff.coupon(code) for code in passage.coupons]
    version = tariff.version_at(exit_)
    pricing = version.pricing
    if isinstance(pricing, ParkingPricing):
        if entry is not None and exit_ - entry > pricing.max_stay_s:
            clock = tariff.clock
            raise QuoteError(
                f"the stay from {clock.local_text(entry)} to {clock.local_text(exit_)} lasts "
                f"{(exit_ - entry) // DAY_S} days, longer than the {pricing.max_stay_days} days "
                f"tariff {tariff.id} prices (max_stay_days): check the entry time"
            )
        paid_at = None if passage.paid_at is None else utc_seconds(passage.paid_at, "payment time")
        if paid_at is not None:
            if entry is not None and not entry <= paid_at <= exit_:
                raise QuoteError("the payment time must lie between the entry and the exit")
            if exit_ - paid_at <= pricing.grace_s:
                label = f"paid, leaving within the {pricing.grace_minutes} min grace period"
                return Fee((FeeLine(label, 0),), 0, tariff.currency, tariff.id, version.version)
        items = _parking_items(pricing, passage.vehicle_class, entry, exit_, coupons)
    elif any(c.free_minutes for c in coupons):
        raise QuoteError("free-minute coupons apply to parking stays only")
    elif passage.paid_at is not None or passage.paid_amount:
        raise QuoteError("an earlier payment (grace period) applies to parking stays only")
    elif isinstance(pricing, HighwayPricing):
        items = pricing.price(passage, tariff.clock.ordinal(exit_))
    else:
        items = pricing.price(passage.vehicle_class)
    _discount(items, tariff, version, passage, coupons)
    return Fee(
        tuple(items), sum(i.amount for i in items), tariff.currency, tariff.id, version.version
    )


def _parking_items(
    pricing: ParkingPricing,
    vehicle_class: int,
    entry: int | None,
    exit_: int,
    coupons: list[Coupon],
) -> list[FeeLine]:
    """Step 1 and 2 of the order: free-minute coupons end the billed stay earlier."""
    free = [c for c in coupons if c.free_minutes]
    items = [FeeLine(f"coupon {c.name}: {c.free_minutes} free minutes", 0) for c in free]
    if entry is not None:
        exit_ = max(entry, exit_ - 60 * sum(c.free_minutes or 0 for c in free))
    return items + pricing.price(vehicle_class, entry, exit_)


def _discount(
    items: list[FeeLine],
    tariff: CompiledTariff,
    version: CompiledVersion,
    passage: FeeQuery,
    coupons: list[Coupon],
) -> None:
    """Steps 3 to 6 of the order, appended to ``items``; the running total stays >= 0."""
    method = passage.payment_method
    method_percent = version.payment_discounts.get(method) if method else None
    if method_percent is None and not coupons and not passage.paid_amount:
        return  # nothing to take off (most passages)
    total = sum(item.amount for item in items)
    percents = [(f"{method} payment discount {method_percent}%", method_percent)]
    percents += [(f"coupon {c.name}", c.percent) for c in coupons]
    for label, percent in percents:
        if percent is not None:
            off = min(total, percent_of(total, percent, tariff.discount_rounding))
            items.append(FeeLine(label, -off))
            total -= off
    amounts = [(f"coupon {c.name}", c.amount) for c in coupons]
    for label, amount in [*amounts, ("already paid", passage.paid_amount or None)]:
        if amount is not None:
            off = min(total, amount)
            items.append(FeeLine(label, -off))
            total -= off
