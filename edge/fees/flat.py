"""Pricing a passage of an open plaza: one flat fee per vehicle class."""

from __future__ import annotations

from contracts.tariff import Flat
from edge.fees.passage import FeeLine, QuoteError


class FlatPricing:
    def __init__(self, scheme: Flat) -> None:
        self.fees = dict(scheme.classes)

    def price(self, vehicle_class: int) -> list[FeeLine]:
        fee = self.fees.get(vehicle_class)
        if fee is None:
            known = ", ".join(str(c) for c in sorted(self.fees))
            raise QuoteError(f"vehicle class {vehicle_class} has no flat fee (classes: {known})")
        return [FeeLine(f"class {vehicle_class} flat fee", fee)]
