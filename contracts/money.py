"""The money contract shared by the edge and central.

An amount is an ``int`` counting the currency's minor unit (fen, cent). Rates
and percentages may be :class:`~decimal.Decimal`; turning them into an amount
always goes through :func:`round_to_step` with an explicit :class:`Rounding`
mode and a step (1 fen, 50 fen, ...). Arithmetic is exact: decimals are turned
into fractions, never into floats.

Rounding is only defined for values that are not negative; a discount is
computed as a positive amount and then subtracted.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from pydantic import Field

from contracts.schema import ConfigModel

# ISO 4217 currencies whose minor unit is not a hundredth; every other code has two digits.
_MINOR_DIGITS: dict[str, int] = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
}


class Rounding(StrEnum):
    """How a value between two steps becomes a whole number of steps."""

    UP = "up"  # to the next step (ceiling)
    DOWN = "down"  # to the step below (floor)
    HALF_UP = "half_up"  # to the nearest step; exactly half-way goes up


class RoundingRule(ConfigModel):
    """A rounding mode and the step an amount is rounded to."""

    mode: Rounding = Field(
        Rounding.HALF_UP,
        title="Mode",
        description="up (ceiling), down (floor) or half_up (nearest, half-way up).",
    )
    step: int = Field(
        1,
        ge=1,
        title="Step",
        description="Amounts are rounded to a multiple of this many minor units (e.g. 50 fen).",
    )

    def apply(self, value: Decimal | Fraction | int) -> int:
        return round_to_step(value, self.step, self.mode)


def divide(numerator: int, denominator: int, mode: Rounding) -> int:
    """``numerator / denominator`` rounded to a whole number (both not negative)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError(f"cannot round {numerator}/{denominator}: negative value or divisor")
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0 or mode is Rounding.DOWN:
        return quotient
    if mode is Rounding.UP:
        return quotient + 1
    return quotient + 1 if 2 * remainder >= denominator else quotient


def round_to_step(
    value: Decimal | Fraction | int, step: int = 1, mode: Rounding = Rounding.HALF_UP
) -> int:
    """A value in minor units (possibly fractional) as an amount: a multiple of ``step``."""
    if step < 1:
        raise ValueError(f"rounding step must be at least 1, got {step}")
    exact = Fraction(value)
    return divide(exact.numerator, exact.denominator * step, mode) * step


def percent_of(amount: int, percent: Decimal | int, rule: RoundingRule) -> int:
    """``percent`` % of ``amount``, rounded by ``rule``."""
    return rule.apply(Fraction(amount) * Fraction(percent) / 100)


def minor_digits(currency: str) -> int:
    """How many decimal digits the currency's minor unit has (2 for CNY: 1 yuan = 100 fen)."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def format_amount(amount: int, currency: str) -> str:
    """An amount for people: ``format_amount(1250, "CNY") == "12.50 CNY"``."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    text = f"{whole}.{part:0{digits}d}" if digits else str(whole)
    return f"{sign}{text} {currency}"
