"""The money contract: integer minor units, explicit rounding to a step."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.money import (
    Rounding,
    RoundingRule,
    divide,
    format_amount,
    minor_digits,
    percent_of,
    round_to_step,
)


class TestRoundToStep:
    """Values in minor units become multiples of the step, as the mode says."""

    @pytest.mark.parametrize(
        ("value", "step", "mode", "expected"),
        [
            (Decimal("1147.5"), 50, Rounding.UP, 1150),
            (Decimal("1147.5"), 50, Rounding.DOWN, 1100),
            (Decimal("1147.5"), 50, Rounding.HALF_UP, 1150),  # 22.95 steps -> 23
            (Decimal("1125"), 50, Rounding.HALF_UP, 1150),  # exactly 22.5 steps -> up
            (Decimal("1124.99"), 50, Rounding.HALF_UP, 1100),
            (Decimal("0.5"), 1, Rounding.HALF_UP, 1),
            (Decimal("0.49"), 1, Rounding.HALF_UP, 0),
            (Decimal("1100"), 50, Rounding.UP, 1100),  # already on a step
            (0, 50, Rounding.UP, 0),
            (Fraction(1, 3), 1, Rounding.UP, 1),
        ],
    )
    def test_examples(self, value: Decimal, step: int, mode: Rounding, expected: int) -> None:
        assert round_to_step(value, step, mode) == expected

    def test_decimal_is_exact(self) -> None:
        # 52.7 km x 45 fen = 2371.5 exactly (as binary floats 52.7 is 52.7000000000000028...);
        # 2371.5 / 50 = 47.43 steps -> half_up 47 -> 2350; 0.15 x 10 = 1.5 -> half_up 2.
        assert round_to_step(Decimal("52.7") * 45, 50, Rounding.HALF_UP) == 2350
        assert round_to_step(Decimal("0.15") * 10, 1, Rounding.HALF_UP) == 2

    def test_negative_value_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            round_to_step(Decimal(-1))

    def test_step_below_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="step must be at least 1"):
            round_to_step(Decimal(10), 0)

    @given(
        st.decimals(min_value=0, max_value=10**9, places=3),
        st.integers(min_value=1, max_value=1000),
    )
    def test_modes_bracket_the_value(self, value: Decimal, step: int) -> None:
        down = round_to_step(value, step, Rounding.DOWN)
        up = round_to_step(value, step, Rounding.UP)
        half = round_to_step(value, step, Rounding.HALF_UP)
        assert down % step == up % step == half % step == 0
        assert down <= value <= up
        assert up - down in (0, step)
        assert half in (down, up)
        assert abs(half - value) <= Decimal(step) / 2


class TestDivide:
    """Whole-unit counts of durations (billing units)."""

    @pytest.mark.parametrize(
        ("mode", "expected"), [(Rounding.UP, 3), (Rounding.DOWN, 2), (Rounding.HALF_UP, 2)]
    )
    def test_61_over_30(self, mode: Rounding, expected: int) -> None:
        assert divide(61, 30, mode) == expected

    def test_zero_divisor_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative value or divisor"):
            divide(1, 0, Rounding.UP)


class TestPercent:
    """Percentages of an amount, rounded by a rule."""

    def test_percent(self) -> None:
        rule = RoundingRule()
        assert percent_of(1150, Decimal(5), rule) == 58  # 57.5 half up
        assert percent_of(1150, Decimal("2.5"), RoundingRule(mode=Rounding.DOWN)) == 28  # 28.75

    def test_rule_step_must_be_positive(self) -> None:
        with pytest.raises(ValidationError, match="step"):
            RoundingRule(step=0)

    def test_rule_mode_must_be_known(self) -> None:
        with pytest.raises(ValidationError, match="mode"):
            RoundingRule.model_validate({"mode": "banker"})


class TestFormat:
    """Amounts for people, in the currency's minor unit digits."""

    @pytest.mark.parametrize(
        ("amount", "currency", "text"),
        [
            (1250, "CNY", "12.50 CNY"),
            (5, "EUR", "0.05 EUR"),
            (-1150, "CNY", "-11.50 CNY"),
            (500, "JPY", "500 JPY"),
            (1234, "KWD", "1.234 KWD"),
        ],
    )
    def test_format(self, amount: int, currency: str, text: str) -> None:
        assert format_amount(amount, currency) == text

    def test_minor_digits(self) -> None:
        assert (minor_digits("CNY"), minor_digits("jpy"), minor_digits("BHD")) == (2, 0, 3)
