"""Highway (closed system) and open plaza tariffs: worked examples, amounts by hand (fen)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.network import Network
from edge.fees.engine import CompiledTariff
from edge.fees.passage import FeeLine, QuoteError
from edge.fees.testing import compiled, price, total

# a --10.0 km-- b --15.5 km-- c ; a to c is 25.5 km.
NETWORK = Network.model_validate(
    {
        "kind": "network",
        "id": "test-net",
        "name": "Test network",
        "plazas": [{"id": p, "name": p.upper()} for p in ("a", "b", "c")],
        "distances": [
            {"plazas": ["a", "b"], "km": "10.0"},
            {"plazas": ["c", "a"], "km": "25.5"},
            {"plazas": ["b", "c"], "km": "15.5"},
        ],
    }
)


def highway(**overrides: Any) -> CompiledTariff:
    scheme = {
        "network": "net.toml",
        "minimum_fee": 500,
        "fare_rounding": {"mode": "half_up", "step": 50},
        "holiday_free": {"classes": [1], "max_seats": 7},
        "classes": {1: {"rate_per_km": 45}, 2: {"rate_per_km": 90}},
        **overrides,
    }
    return compiled(
        {"highway": scheme, "payment_discounts": {"etc": 5, "account": 3}},
        networks={"net.toml": NETWORK},
        holidays=[{"name": "National Day", "first": "2026-10-01", "last": "2026-10-07"}],
    )


EXIT = "2026-03-02 10:00"


class TestDistanceFare:
    """Rate per km by class over the network distance, rounded to the step."""

    def test_class_1(self) -> None:
        # 25.5 km x 45 fen = 1147.5 -> 22.95 steps of 50 -> half_up 23 -> 1150.
        fee = price(highway(), None, EXIT, entry_plaza="a", exit_plaza="c")
        assert fee.items == (FeeLine("class 1 toll a → c, 25.5 km", 1150),)
        assert fee.total == 1150

    def test_class_2_and_reverse_direction(self) -> None:
        # 25.5 km x 90 = 2295 -> 45.9 steps -> 46 x 50 = 2300; c -> a is the same distance.
        tariff = highway()
        assert total(tariff, None, EXIT, entry_plaza="c", exit_plaza="a", vehicle_class=2) == 2300

    @pytest.mark.parametrize(
        ("mode", "step", "expected"),
        [
            ("down", 50, 1100),  # 1147.5 -> 22 steps
            ("up", 50, 1150),  # -> 23 steps
            ("half_up", 1, 1148),  # 1147.5 -> half-way goes up
            ("down", 1, 1147),
        ],
    )
    def test_rounding_step(self, mode: str, step: int, expected: int) -> None:
        tariff = highway(fare_rounding={"mode": mode, "step": step})
        assert total(tariff, None, EXIT, entry_plaza="a", exit_plaza="c") == expected

    def test_minimum_fee(self) -> None:
        # a -> b: 10 km x 45 = 450 < minimum 500: +50.
        fee = price(highway(), None, EXIT, entry_plaza="a", exit_plaza="b")
        assert fee.items == (
            FeeLine("class 1 toll a → b, 10.0 km", 450),
            FeeLine("minimum fee", 50),
        )
        assert fee.total == 500


class TestUnknownEntry:
    """Without an entry plaza the fare runs over the longest distance to the exit."""

    def test_longest_distance(self) -> None:
        # Longest to c is from a, 25.5 km: 1150. Longest to b is from c, 15.5 km:
        # 697.5 -> 13.95 steps -> 14 x 50 = 700.
        tariff = highway()
        fee = price(tariff, None, EXIT, exit_plaza="c")
        assert fee.items == (
            FeeLine("class 1 toll entry unknown: longest distance to c, 25.5 km", 1150),
        )
        assert total(tariff, None, EXIT, exit_plaza="b") == 700


class TestHolidayFreePassage:
    """Passenger cars of up to 7 seats pass free when they exit on a holiday."""

    def test_exit_on_holiday(self) -> None:
        # Entered before the holiday; exits 10-01 00:10: judged by the exit, free.
        fee = price(
            highway(),
            "2026-09-30 23:00",
            "2026-10-01 00:10",
            entry_plaza="a",
            exit_plaza="c",
            seats=5,
        )
        assert fee.items == (
            FeeLine("class 1 toll a → c, 25.5 km", 1150),
            FeeLine("holiday free passage (National Day)", -1150),
        )
        assert fee.total == 0

    def test_exit_before_holiday(self) -> None:
        passage = {"entry_plaza": "a", "exit_plaza": "c", "seats": 5}
        assert total(highway(), None, "2026-09-30 23:59", **passage) == 1150

    @pytest.mark.parametrize(
        ("vehicle_class", "seats", "expected"),
        [(1, 8, 1150), (1, None, 1150), (2, 5, 2300)],
        ids=["8 seats", "seats unknown", "class 2"],
    )
    def test_not_eligible(self, vehicle_class: int, seats: int | None, expected: int) -> None:
        passage = {
            "entry_plaza": "a",
            "exit_plaza": "c",
            "seats": seats,
            "vehicle_class": vehicle_class,
        }
        assert total(highway(), None, "2026-10-02 12:00", **passage) == expected


class TestPaymentMethodDiscount:
    """The payment method's percentage comes off the fare."""

    @pytest.mark.parametrize(
        ("method", "expected"),
        [
            ("etc", 1092),  # 5 % of 1150 = 57.5 -> 58; 1150 - 58
            ("account", 1115),  # 3 % of 1150 = 34.5 -> 35; 1150 - 35
            ("cash", 1150),  # no discount
        ],
    )
    def test_discount(self, method: str, expected: int) -> None:
        passage = {"entry_plaza": "a", "exit_plaza": "c", "payment_method": method}
        fee = price(highway(), None, EXIT, **passage)
        assert fee.total == expected
        assert len(fee.items) == (1 if method == "cash" else 2)


class TestHighwayErrors:
    """Passages the network or the tariff cannot price are refused with the reason."""

    @pytest.mark.parametrize(
        ("passage", "message"),
        [
            ({"entry_plaza": "a"}, "a highway passage needs its exit plaza"),
            (
                {"entry_plaza": "x", "exit_plaza": "c"},
                r"entry plaza 'x' is not in network test-net \(plazas: a, b, c\)",
            ),
            ({"entry_plaza": "a", "exit_plaza": "z"}, "exit plaza 'z' is not in network"),
            (
                {"entry_plaza": "a", "exit_plaza": "c", "vehicle_class": 3},
                r"vehicle class 3 has no highway rate \(classes: 1, 2\)",
            ),
        ],
    )
    def test_refused(self, passage: dict[str, Any], message: str) -> None:
        with pytest.raises(QuoteError, match=message):
            total(highway(), None, EXIT, **passage)


FLAT = {"flat": {"classes": {1: 1000, 2: 1500}}, "payment_discounts": {"etc": 5}}


class TestOpenPlaza:
    """An open plaza charges a flat fee per class."""

    def test_flat_fee_by_class(self) -> None:
        tariff = compiled(FLAT)
        assert price(tariff, None, EXIT).items == (FeeLine("class 1 flat fee", 1000),)
        assert total(tariff, None, EXIT, vehicle_class=2) == 1500

    def test_payment_discount(self) -> None:
        # 5 % of 1000 = 50: 950.
        assert total(compiled(FLAT), None, EXIT, payment_method="etc") == 950

    def test_unknown_class(self) -> None:
        with pytest.raises(QuoteError, match=r"vehicle class 4 has no flat fee \(classes: 1, 2\)"):
            total(compiled(FLAT), None, EXIT, vehicle_class=4)
