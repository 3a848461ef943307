"""Pricing a passage of a closed toll system: rate per km from the entry to the exit plaza.

Order: distance (the network's table; the longest distance from the exit plaza
when the entry is unknown) × the class's rate per km, rounded by
``fare_rounding``; raised to ``minimum_fee``; waived in full for eligible
passenger vehicles when the exit falls on a holiday.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.network import Network
from contracts.tariff import Highway
from edge.fees.passage import FeeLine, FeeQuery, QuoteError


class HighwayPricing:
    def __init__(self, scheme: Highway, network: Network, holidays: Mapping[int, str]) -> None:
        self.network_id = network.id
        self.distances = network.table()
        self.plazas = [p.id for p in network.plazas]
        self.longest = {
            plaza: max(self.distances[plaza, other] for other in self.plazas)
            for plaza in self.plazas
        }
        self.rates = {number: c.rate_per_km for number, c in scheme.classes.items()}
        self.rounding = scheme.fare_rounding
        self.minimum = scheme.minimum_fee
        self.free = scheme.holiday_free
        self.holidays = holidays

    def _plaza(self, plaza: str | None, role: str) -> str:
        if plaza is None:
            raise QuoteError(f"a highway passage needs its {role} plaza")
        if (plaza, plaza) not in self.distances:
            raise QuoteError(
                f"{role} plaza {plaza!r} is not in network {self.network_id} "
                f"(plazas: {', '.join(self.plazas)})"
            )
        return plaza

    def price(self, passage: FeeQuery, exit_ordinal: int) -> list[FeeLine]:
        exit_plaza = self._plaza(passage.exit_plaza, "exit")
        rate = self.rates.get(passage.vehicle_class)
        if rate is None:
            known = ", ".join(str(c) for c in sorted(self.rates))
            raise QuoteError(
                f"vehicle class {passage.vehicle_class} has no highway rate (classes: {known})"
            )
        if passage.entry_plaza is None:
            km = self.longest[exit_plaza]
            route = f"entry unknown: longest distance to {exit_plaza}"
        else:
            entry_plaza = self._plaza(passage.entry_plaza, "entry")
            km = self.distances[entry_plaza, exit_plaza]
            route = f"{entry_plaza} → {exit_plaza}"
        fare = self.rounding.apply(rate * km)
        items = [FeeLine(f"class {passage.vehicle_class} toll {route}, {km} km", fare)]
        if fare < self.minimum:
            items.append(FeeLine("minimum fee", self.minimum - fare))
            fare = self.minimum
        holiday = self.holidays.get(exit_ordinal)
        if holiday and self._free_on_holidays(passage):
            items.append(FeeLine(f"holiday free passage ({holiday})", -fare))
        return items

    def _free_on_holidays(self, passage: FeeQuery) -> bool:
        return (
            self.free is not None
            and passage.vehicle_class in self.free.classes
            and passage.seats is not None
            and passage.seats <= self.free.max_seats
        )
