"""Tariff files (``kind = "tariff"``): what a passage costs, as validated data.

A tariff has an id, a currency, a time zone, a holiday calendar, a coupon
catalogue and one or more versions. Each version has a number, the time it
takes effect and exactly one pricing scheme:

- ``parking``: a stay between an entry and an exit, priced by billing units
  in day/night time bands, with free minutes, a first period, tiers, a daily
  cap, a maximum per stay, a lost-ticket fee and holiday rates, per vehicle class;
- ``highway``: a closed toll system, priced per km between the entry and the
  exit plaza of a network file;
- ``flat``: an open plaza, one fee per vehicle class.

All prices are integers of the currency's minor unit; only the per-km rates
and percentages may be decimals (see :mod:`contracts.money`). Times of day are local
to the tariff's time zone; ``effective_from`` without an offset is local too.
The lane's fee engine (``edge.fees.engine``) works on the compiled form of this
model; the schema is a contract because central authors, validates and pushes
tariffs too, and must read them exactly as a lane does.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from contracts.ids import TariffId
from contracts.money import Rounding, RoundingRule
from contracts.schema import ConfigModel

#: The instants the fee engine prices: [FIRST_INSTANT, END_INSTANT), UTC seconds.
FIRST_INSTANT = int(datetime(1970, 1, 1, tzinfo=UTC).timestamp())
END_INSTANT = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp())
PRICED_YEARS = "1970 to 2199, UTC"
MINUTES_PER_DAY = 24 * 60
DEFAULT_MAX_STAY_DAYS = 366
LONGEST_MAX_STAY_DAYS = 3660
DEFAULT_ITEMISED_DAYS = 7
# Receipt lines name bands and holidays; with these bounds the longest line
# (a run of calendar days: "2026-11-21–2027-11-19 (holiday) band: 175680 × 30 min")
# fits the 80 characters of a recorded fee item.
BAND_NAME_LENGTH = 16
HOLIDAY_NAME_LENGTH = 20

VehicleClass = Annotated[int, Field(ge=1, le=99)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]
_TIME_OF_DAY = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")


def minute_of_day(text: str) -> int:
    """``"08:30"`` → 510; ``"24:00"`` → 1440."""
    match = _TIME_OF_DAY.match(text)
    if match is None:
        raise ValueError(f"expected a time of day HH:MM (00:00 to 24:00), got {text!r}")
    if match.group(1) is None:
        return MINUTES_PER_DAY
    return int(match.group(1)) * 60 + int(match.group(2))


def clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (expected an IANA name such as Asia/Shanghai)"
        ) from None
    return value


class Tier(ConfigModel):
    """A unit price that applies from some minutes into the charging day."""

    after_minutes: int = Field(
        ge=0,
        title="After minutes",
        description="Minutes from the start of the charging day (the entry, or the start of "
        "the 24 h period or calendar day) from which this unit price applies.",
    )
    unit_price: int = Field(
        ge=0, title="Unit price", description="Price of one billing unit, in minor units."
    )


class Band(ConfigModel):
    """A stretch of the day (e.g. day 08:00–20:00, night 20:00–08:00) with its own prices."""

    name: str = Field(
        min_length=1,
        max_length=BAND_NAME_LENGTH,
        title="Name",
        description=f"Shown on the receipt, e.g. `day` or `night`; at most {BAND_NAME_LENGTH} "
        "characters, so that every receipt line fits a transaction record's 80.",
    )
    start: str = Field(
        title="Start", description="Local time of day the band starts, HH:MM (inclusive)."
    )
    end: str = Field(
        title="End",
        description="Local time of day the band ends, HH:MM (exclusive; 24:00 is midnight). "
        "An end before the start wraps past midnight.",
    )
    unit_minutes: int | None = Field(
        None,
        ge=1,
        le=MINUTES_PER_DAY,
        title="Billing unit",
        description="Length of a billing unit in this band, in minutes; default: the table's.",
    )
    unit_price: int | None = Field(
        None,
        ge=0,
        title="Unit price",
        description="Price of one billing unit in minor units (give this or `tiers`).",
    )
    tiers: list[Tier] | None = Field(
        None,
        min_length=1,
        title="Tiers",
        description="Unit prices that change with the time parked (give this or `unit_price`); "
        "sorted by `after_minutes`, the first at 0.",
    )

    @field_validator("start", "end")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        minute_of_day(value)
        return value

    @field_validator("tiers")
    @classmethod
    def _sorted_tiers(cls, tiers: list[Tier] | None) -> list[Tier] | None:
        if tiers is None:
            return None
        if tiers[0].after_minutes != 0:
            raise ValueError("the first tier must start at after_minutes = 0")
        for i in range(1, len(tiers)):
            if tiers[i].after_minutes <= tiers[i - 1].after_minutes:
                raise ValueError(
                    f"tiers must be sorted by after_minutes, strictly increasing: tiers[{i}] "
                    f"({tiers[i].after_minutes}) does not come after tiers[{i - 1}] "
                    f"({tiers[i - 1].after_minutes})"
                )
        return tiers

    @model_validator(mode="after")
    def _one_price(self) -> Band:
        if (self.unit_price is None) == (self.tiers is None):
            raise ValueError(f"band {self.name!r}: give exactly one of unit_price or tiers")
        if minute_of_day(self.start) == MINUTES_PER_DAY:
            raise ValueError(f"band {self.name!r}: a band cannot start at 24:00; use 00:00")
        if minute_of_day(self.start) == minute_of_day(self.end):
            raise ValueError(
                f"band {self.name!r}: start and end are the same time; "
                "a band lasting all day runs from 00:00 to 24:00"
            )
        return self

    def pieces(self) -> list[tuple[int, int]]:
        """The band as ``[start, end)`` minute ranges within one day (two when it wraps)."""
        start, end = minute_of_day(self.start), minute_of_day(self.end)
        if start < end:
            return [(start, end)]
        return [(start, MINUTES_PER_DAY), (0, end)] if end else [(start, MINUTES_PER_DAY)]


class RateTable(ConfigModel):
    """How a stay is billed on one kind of day: units, first period, bands and a daily cap."""

    unit_minutes: int = Field(
        ge=1,
        le=MINUTES_PER_DAY,
        title="Billing unit",
        description="Length of a billing unit in minutes (a band may override it).",
    )
    rounding: Rounding = Field(
        Rounding.UP,
        title="Partial unit rounding",
        description="How a partial billing unit in a band counts: up (a started unit is a "
        "whole unit), down (ignored) or half_up (counts from half a unit).",
    )
    first_period_minutes: int = Field(
        0,
        ge=0,
        lt=MINUTES_PER_DAY,
        title="First period",
        description="Minutes from the entry charged at `first_period_price` as one block, "
        "whatever the band; 0 for none.",
    )
    first_period_price: int = Field(
        0, ge=0, title="First period price", description="Price of the first period."
    )
    daily_cap: int | None = Field(
        None,
        ge=0,
        title="Daily cap",
        description="Most charged for one charging day (see `daily_cap_mode`); none when absent.",
    )
    bands: list[Band] = Field(
        min_length=1,
        title="Time bands",
        description="Bands covering the 24 hours of the day exactly once; "
        "one band from 00:00 to 24:00 for a single rate.",
    )

    @field_validator("bands")
    @classmethod
    def _cover_day_once(cls, bands: list[Band]) -> list[Band]:
        names = [band.name for band in bands]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"band names must be unique; repeated: {', '.join(duplicates)}")
        owner: list[int | None] = [None] * MINUTES_PER_DAY
        for index, band in enumerate(bands):
            for start, end in band.pieces():
                for minute in range(start, end):
                    other = owner[minute]
                    if other is not None:
                        raise ValueError(
                            f"bands {bands[other].name!r} and {band.name!r} overlap at "
                            f"{clock_text(minute)}"
                        )
                    owner[minute] = index
        if None in owner:
            first = owner.index(None)
            last = first
            while last < MINUTES_PER_DAY and owner[last] is None:
                last += 1
            raise ValueError(
                f"bands must cover the whole day; {clock_text(first)}–{clock_text(last)} "
                "is in no band"
            )
        return bands

    @model_validator(mode="after")
    def _first_period_priced(self) -> RateTable:
        if self.first_period_price and not self.first_period_minutes:
            raise ValueError("first_period_price is set but first_period_minutes is 0")
        return self


class ParkingClass(RateTable):
    """The parking rates of one vehicle class."""

    holiday: RateTable | None = Field(
        None,
        title="Holiday rates",
        description="Rates for charging days that start on a holiday of the tariff's calendar; "
        "the ordinary rates apply when absent.",
    )
    max_per_stay: int | None = Field(
        None,
        ge=0,
        title="Maximum per stay",
        description="Most charged for one stay however long; none when absent.",
    )
    lost_ticket_fee: int = Field(
        ge=0,
        title="Lost ticket fee",
        description="Charged when the exit has no entry record (lost ticket, unmatched plate).",
    )


class CapMode(StrEnum):
    ROLLING_24H = "rolling_24h"
    CALENDAR_DAY = "calendar_day"


class Parking(ConfigModel):
    """Parking: a stay from entry to exit."""

    free_minutes: int = Field(
        0,
        ge=0,
        title="Free minutes",
        description="A stay of at most this many minutes is free; a longer stay is charged in full.",
    )
    grace_minutes: int = Field(
        0,
        ge=0,
        title="Grace after payment",
        description="Minutes after paying (at a pay station) within which the vehicle leaves "
        "without paying more; later, the stay is priced again less what was paid.",
    )
    daily_cap_mode: CapMode = Field(
        CapMode.ROLLING_24H,
        title="Daily cap mode",
        description="rolling_24h: charging days are the 24 h periods from the entry; "
        "calendar_day: they end at local midnight.",
    )
    max_stay_days: int = Field(
        DEFAULT_MAX_STAY_DAYS,
        ge=1,
        le=LONGEST_MAX_STAY_DAYS,
        title="Maximum stay",
        description="Longest stay priced, in days from the entry to the exit (default "
        f"{DEFAULT_MAX_STAY_DAYS}, at most {LONGEST_MAX_STAY_DAYS}). A longer stay is not "
        "priced: the quote fails with an error naming both times, so that a mistyped or "
        "misread entry time, or a vehicle left for good, goes to a person.",
    )
    itemised_days: int = Field(
        DEFAULT_ITEMISED_DAYS,
        ge=0,
        title="Itemised days",
        description="A stay of at most this many charging days lists every day on the "
        f"receipt (default {DEFAULT_ITEMISED_DAYS}). A longer stay's receipt lists each run of "
        "consecutive charging days priced alike once (`days 2–180 day: 3916 × 30 min`), "
        "with the units and amounts of all its days: the same total, a short receipt.",
    )
    classes: dict[VehicleClass, ParkingClass] = Field(
        min_length=1,
        title="Vehicle classes",
        description="Rates by vehicle class number (1 = small passenger car, ...).",
    )


class HighwayClass(ConfigModel):
    rate_per_km: Decimal = Field(
        ge=0,
        title="Rate per km",
        description="Minor units per km, may be a decimal (e.g. 45 fen/km = 0.45 CNY/km).",
    )


class HolidayFree(ConfigModel):
    """Free passage on holidays, judged by the exit time."""

    classes: list[VehicleClass] = Field(
        min_length=1,
        title="Classes",
        description="Vehicle classes that pass free on holidays (passenger cars).",
    )
    max_seats: int = Field(
        7,
        ge=1,
        title="Maximum seats",
        description="Only vehicles with at most this many seats pass free; a vehicle whose "
        "seat count is unknown pays.",
    )


class Highway(ConfigModel):
    """Closed toll system: rate per km between the entry and the exit plaza."""

    network: str = Field(
        min_length=1,
        title="Network file",
        description="Path of the network file with the distances, relative to the tariff file.",
    )
    fare_rounding: RoundingRule = Field(
        default_factory=RoundingRule,
        title="Fare rounding",
        description="How the distance fare is rounded to an amount.",
    )
    minimum_fee: int = Field(
        0, ge=0, title="Minimum fee", description="No fare is lower than this (minor units)."
    )
    holiday_free: HolidayFree | None = Field(
        None,
        title="Holiday free passage",
        description="Which vehicles pass free when they exit on a holiday; none when absent.",
    )
    classes: dict[VehicleClass, HighwayClass] = Field(
        min_length=1, title="Vehicle classes", description="Rates by vehicle class number."
    )


class Flat(ConfigModel):
    """Open plaza: one fee per vehicle class."""

    classes: dict[VehicleClass, Annotated[int, Field(ge=0)]] = Field(
        min_length=1,
        title="Fees by class",
        description="Vehicle class number → fee in minor units.",
    )


class TariffVersion(ConfigModel):
    version: int = Field(ge=1, title="Version", description="Version number, increasing.")
    effective_from: datetime = Field(
        title="Effective from",
        description="When this version takes effect (a quote uses the version in force at the "
        "exit); without an offset it is local to the tariff's time zone.",
    )
    payment_discounts: dict[str, Percent] = Field(
        default_factory=dict,
        title="Payment method discounts",
        description="Percentage off by payment method, e.g. `etc = 5`; other methods pay in full.",
    )
    parking: Parking | None = Field(None, title="Parking", description="Parking scheme.")
    highway: Highway | None = Field(None, title="Highway", description="Closed toll system.")
    flat: Flat | None = Field(None, title="Flat", description="Open plaza, flat fee per class.")

    @model_validator(mode="after")
    def _one_scheme(self) -> TariffVersion:
        given = [name for name in SCHEMES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"version {self.version}: give exactly one of {', '.join(SCHEMES)} "
                f"(got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def scheme(self) -> str:
        return next(name for name in SCHEMES if getattr(self, name) is not None)


SCHEMES = ("parking", "highway", "flat")


class Holiday(ConfigModel):
    name: str = Field(
        min_length=1,
        max_length=HOLIDAY_NAME_LENGTH,
        title="Name",
        description=f"E.g. `National Day`; shown on the receipt, at most {HOLIDAY_NAME_LENGTH} "
        "characters.",
    )
    first: date = Field(title="First day", description="First day of the holiday (local).")
    last: date = Field(title="Last day", description="Last day of the holiday (local).")

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.last < self.first:
            raise ValueError(
                f"holiday {self.name!r}: last ({self.last}) is before first ({self.first})"
            )
        if (self.last - self.first).days > 366:
            raise ValueError(f"holiday {self.name!r}: longer than a year")
        return self


class Coupon(ConfigModel):
    """A coupon the lane accepts: exactly one of percent, amount or free_minutes."""

    code: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        title="Code",
        description="What the passage carries (letters, digits, - and _).",
    )
    name: str = Field(min_length=1, title="Name", description="Shown on the receipt.")
    percent: Percent | None = Field(
        None, title="Percent off", description="Percentage off the fee."
    )
    amount: int | None = Field(
        None, gt=0, title="Amount off", description="Minor units off the fee (never below 0)."
    )
    free_minutes: int | None = Field(
        None,
        gt=0,
        title="Free minutes",
        description="Minutes taken off the end of a parking stay before it is priced.",
    )

    @model_validator(mode="after")
    def _one_benefit(self) -> Coupon:
        given = [n for n in ("percent", "amount", "free_minutes") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"coupon {self.code!r}: give exactly one of percent, amount or free_minutes"
            )
        return self


class Tariff(ConfigModel):
    kind: Literal["tariff"] = Field(title="Kind", description="Always `tariff`.")
    id: TariffId = Field(
        title="Tariff id",
        description="Recorded with every transaction together with the version.",
    )
    name: str = Field(min_length=1, title="Name", description="Shown to supervisors.")
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        title="Currency",
        description="ISO 4217 code; every price is an integer of its minor unit.",
    )
    timezone: str = Field(
        title="Time zone",
        description="IANA time zone in which bands, days and holidays are evaluated.",
    )
    holidays: list[Holiday] = Field(
        default_factory=list,
        title="Holiday calendar",
        description="Holidays (local dates) for holiday rates and holiday free passage.",
    )
    coupons: list[Coupon] = Field(
        default_factory=list,
        title="Coupons",
        description="Coupons accepted; a passage naming another code is refused.",
    )
    discount_rounding: RoundingRule = Field(
        default_factory=RoundingRule,
        title="Discount rounding",
        description="How percentage discounts (payment method, coupons) are rounded.",
    )
    versions: list[TariffVersion] = Field(
        min_length=1,
        title="Versions",
        description="Versions in order of `effective_from`; the one in force at the exit applies.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("coupons")
    @classmethod
    def _unique_codes(cls, coupons: list[Coupon]) -> list[Coupon]:
        codes = [c.code for c in coupons]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"coupon codes must be unique; repeated: {', '.join(repeated)}")
        return coupons

    @model_validator(mode="after")
    def _versions_in_order(self) -> Tariff:
        schemes = {v.scheme for v in self.versions}
        if len(schemes) > 1:
            raise ValueError(f"versions: all versions must use one scheme, got {sorted(schemes)}")
        starts = self.version_starts()
        for i, start in enumerate(starts):
            if not FIRST_INSTANT <= start.timestamp() < END_INSTANT:
                raise ValueError(
                    f"versions[{i}].effective_from: {self.versions[i].effective_from} is outside "
                    f"the times the fee engine prices (the years {PRICED_YEARS})"
                )
        for i in range(1, len(self.versions)):
            before, after = self.versions[i - 1], self.versions[i]
            if after.version <= before.version or starts[i] <= starts[i - 1]:
                raise ValueError(
                    f"versions[{i}]: versions must be listed with increasing version and "
                    f"effective_from (version {after.version} from {after.effective_from} "
                    f"follows version {before.version} from {before.effective_from})"
                )
        return self

    def version_starts(self) -> list[datetime]:
        """Each version's ``effective_from`` as an aware time (naive ones are local)."""
        tz = ZoneInfo(self.timezone)
        return [
            v.effective_from if v.effective_from.tzinfo else v.effective_from.replace(tzinfo=tz)
            for v in self.versions
        ]
