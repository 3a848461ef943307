"""Discounts and coupons: the documented order, worked examples in fen."""

from __future__ import annotations

from datetime import datetime

import pytest

from edge.fees.engine import CompiledTariff, quote
from edge.fees.passage import FeeLine, FeeQuery, QuoteError
from edge.fees.testing import at, compiled, parking, price, total

COUPONS = [
    {"code": "PCT20", "name": "20% off", "percent": 20},
    {"code": "PCT10", "name": "10% off", "percent": 10},
    {"code": "AMT300", "name": "3 CNY off", "amount": 300},
    {"code": "FREE60", "name": "1 h free", "free_minutes": 60},
]
# 09:00-12:00 by day: 6 units of 30 min at 200 = 1200 before discounts.
ENTRY, EXIT = "2026-03-02 09:00", "2026-03-02 12:00"


def tariff(**scheme: object) -> CompiledTariff:
    return compiled(
        {**parking(free_minutes=15, **scheme), "payment_discounts": {"account": 5}},
        coupons=COUPONS,
    )


class TestCoupons:
    """Each kind of coupon, and the order they apply in."""

    def test_free_minutes_shorten_the_stay(self) -> None:
        # Billed 09:00-11:00: 4 units = 800.
        fee = price(tariff(), ENTRY, EXIT, coupons=("FREE60",))
        assert fee.items == (
            FeeLine("coupon 1 h free: 60 free minutes", 0),
            FeeLine("day 1 day: 4 × 30 min", 800),
        )
        assert fee.total == 800

    def test_free_minutes_can_make_the_stay_free(self) -> None:
        # 70 min - 60 = 10 min billed, within the 15 free minutes.
        assert total(tariff(), ENTRY, "2026-03-02 10:10", coupons=("FREE60",)) == 0

    @pytest.mark.parametrize("order", [("PCT20", "AMT300"), ("AMT300", "PCT20")])
    def test_percent_before_amount_whatever_the_listing(self, order: tuple[str, str]) -> None:
        # 1200 - 20 % (240) = 960; - 300 = 660.
        fee = price(tariff(), ENTRY, EXIT, coupons=order)
        assert fee.items[-2:] == (
            FeeLine("coupon 20% off", -240),
            FeeLine("coupon 3 CNY off", -300),
        )
        assert fee.total == 660

    def test_payment_method_then_percentages_in_listed_order(self) -> None:
        # 1200 - account 5 % (60) = 1140; - 10 % (114) = 1026; - 20 % (205.2 -> 205) = 821.
        fee = price(tariff(), ENTRY, EXIT, coupons=("PCT10", "PCT20"), payment_method="account")
        assert fee.items[-3:] == (
            FeeLine("account payment discount 5%", -60),
            FeeLine("coupon 10% off", -114),
            FeeLine("coupon 20% off", -205),
        )
        assert fee.total == 821

    def test_amount_never_below_zero(self) -> None:
        # 09:00-09:30 = 200; the 300 coupon takes 200.
        fee = price(tariff(), ENTRY, "2026-03-02 09:30", coupons=("AMT300",))
        assert fee.items[-1] == FeeLine("coupon 3 CNY off", -200)
        assert fee.total == 0

    def test_paid_amount_comes_last(self) -> None:
        # 1200 - 20 % = 960; paid 500 at 10:00 (grace 0): 460 due.
        fee = price(
            tariff(),
            ENTRY,
            EXIT,
            coupons=("PCT20",),
            paid_at=at("2026-03-02 10:00"),
            paid_amount=500,
        )
        assert fee.items[-1] == FeeLine("already paid", -500)
        assert fee.total == 460


class TestCouponErrors:
    """Coupons the tariff does not accept are refused, naming the code."""

    def test_unknown_code(self) -> None:
        with pytest.raises(
            QuoteError,
            match=r"coupon 'NOPE' is not accepted by tariff test \(accepted: AMT300, FREE60, PCT10, PCT20\)",
        ):
            total(tariff(), ENTRY, EXIT, coupons=("NOPE",))

    def test_code_twice(self) -> None:
        with pytest.raises(QuoteError, match="a coupon is given more than once: PCT20, PCT20"):
            total(tariff(), ENTRY, EXIT, coupons=("PCT20", "PCT20"))

    def test_free_minutes_outside_parking(self) -> None:
        flat = compiled({"flat": {"classes": {1: 1000}}}, coupons=COUPONS)
        with pytest.raises(QuoteError, match="free-minute coupons apply to parking stays only"):
            total(flat, None, EXIT, coupons=("FREE60",))
        assert total(flat, None, EXIT, coupons=("PCT10",)) == 900


class TestPassageErrors:
    """Passages that make no sense are refused with the reason."""

    def test_entry_after_exit(self) -> None:
        with pytest.raises(QuoteError, match="is after exit"):
            total(tariff(), EXIT, ENTRY)

    def test_naive_time(self) -> None:
        with pytest.raises(QuoteError, match="exit time 2026-03-02T12:00:00 has no time zone"):
            quote(tariff(), FeeQuery(entry=at(ENTRY), exit=datetime(2026, 3, 2, 12)))
