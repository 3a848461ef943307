"""Properties of parking quotes over random tariffs and stays (Hypothesis).

Never negative; never lower for a longer stay (same entry, later exit, one
version); never above the caps; free within the free minutes; deterministic;
and equal to a slow reference that walks the stay minute by minute.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.money import Rounding, divide
from contracts.tariff import LONGEST_MAX_STAY_DAYS, Band, RateTable, Tariff, minute_of_day
from edge.fees.engine import CompiledTariff, compile_tariff, quote
from edge.fees.passage import FeeLine, FeeQuery
from edge.fees.testing import band, tariff_data

# Late March 2026: Europe/Berlin springs forward on the 29th (a 23 h day).
ZONES = ["Asia/Shanghai", "Europe/Berlin"]
HOLIDAYS = [{"name": "Spring break", "first": "2026-03-28", "last": "2026-03-29"}]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def bands(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1 to 4 bands covering the day; the last wraps past midnight."""
    cuts = sorted(draw(st.sets(st.integers(0, 95).map(lambda q: q * 15), min_size=1, max_size=4)))
    if len(cuts) == 1:
        edges = [("00:00", "24:00")]
    else:
        edges = [(_hhmm(cuts[i]), _hhmm(cuts[(i + 1) % len(cuts)])) for i in range(len(cuts))]
    out = []
    for i, (start, end) in enumerate(edges):
        prices: dict[str, Any]
        if draw(st.booleans()):
            prices = {"unit_price": draw(st.integers(0, 500))}
        else:
            after = sorted(draw(st.sets(st.integers(1, 1439), max_size=2)))
            prices = {
                "tiers": [
                    {"after_minutes": a, "unit_price": draw(st.integers(0, 500))}
                    for a in [0, *after]
                ]
            }
        unit = draw(st.none() | st.sampled_from([15, 30, 60, 120]))
        if unit is not None:
            prices["unit_minutes"] = unit
        out.append(band(f"b{i}", start, end, **prices))
    return out


@st.composite
def rate_tables(draw: st.DrawFn) -> dict[str, Any]:
    table: dict[str, Any] = {
        "unit_minutes": draw(st.sampled_from([10, 15, 30, 60])),
        "rounding": draw(st.sampled_from(["up", "down", "half_up"])),
        "daily_cap": draw(st.none() | st.integers(0, 10_000)),
        "bands": draw(bands()),
    }
    if draw(st.booleans()):
        table["first_period_minutes"] = draw(st.integers(1, 180))
        table["first_period_price"] = draw(st.integers(0, 1000))
    return table


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    rates = draw(rate_tables())
    rates["lost_ticket_fee"] = 5000
    rates["max_per_stay"] = draw(st.none() | st.integers(0, 30_000))
    if draw(st.booleans()):
        rates["holiday"] = draw(rate_tables())
    scheme = {
        # 0 folds every run of days priced alike into one set of receipt lines.
        "itemised_days": draw(st.sampled_from([0, 1, 7])),
        "free_minutes": draw(st.integers(0, 30)),
        "daily_cap_mode": draw(st.sampled_from(["rolling_24h", "calendar_day"])),
        "classes": {1: rates},
    }
    data = tariff_data(
        {"parking": scheme}, timezone=draw(st.sampled_from(ZONES)), holidays=HOLIDAYS
    )
    return Tariff.model_validate(data)


entries = st.integers(0, 7 * 24 * 60).map(lambda m: datetime(2026, 3, 25) + timedelta(minutes=m))
stays = st.integers(0, 3 * 24 * 60)
seconds = st.integers(0, 3 * 24 * 3600)


def real(tariff: CompiledTariff, entry: datetime, seconds: int = 0) -> datetime:
    """``seconds`` of real time after the local ``entry``, as the zone's clocks show it.

    A local time in a daylight-saving gap is refused by the engine; one drawn
    there reads with the offset before the jump, as the reference reads it.
    """
    start = entry.replace(tzinfo=tariff.clock.tz).timestamp()
    return datetime.fromtimestamp(start + seconds, tariff.clock.tz)


def fee(tariff: CompiledTariff, entry: datetime, minutes: int, seconds: int = 0) -> int:
    exit_ = real(tariff, entry, minutes * 60 + seconds)
    return quote(tariff, FeeQuery(entry=real(tariff, entry), exit=exit_)).total


def reference(tariff: Tariff, entry: datetime, minutes: int) -> int:
    """The same rules, walked one real minute at a time (slow, obviously right)."""
    scheme = tariff.versions[0].parking
    assert scheme is not None
    rates = scheme.classes[1]
    zone = ZoneInfo(tariff.timezone)
    start = int(entry.replace(tzinfo=zone).timestamp())
    if minutes <= scheme.free_minutes:
        return 0
    holidays = {date(2026, 3, 28), date(2026, 3, 29)}
    local = [datetime.fromtimestamp(start + 60 * m, zone) for m in range(minutes)]
    if scheme.daily_cap_mode == "rolling_24h":
        day_of = [m // 1440 for m in range(minutes)]
    else:
        day_of = [(t.date() - local[0].date()).days for t in local]
    total = 0
    first_end = 0  # minutes from the entry covered by the first period
    for day in sorted(set(day_of)):
        in_day = [m for m in range(minutes) if day_of[m] == day]
        first = in_day[0]
        table: RateTable = rates
        if rates.holiday is not None and local[first].date() in holidays:
            table = rates.holiday
        charge = 0
        if day == 0 and table.first_period_minutes:
            charge += table.first_period_price
            first_end = table.first_period_minutes
        runs: list[list[int]] = []  # [band index, first minute, length]
        for m in in_day:
            if m < first_end:
                continue
            index = band_at(table.bands, local[m].hour * 60 + local[m].minute)
            if runs and runs[-1][0] == index and runs[-1][1] + runs[-1][2] == m:
                runs[-1][2] += 1
            else:
                runs.append([index, m, 1])
        for index, run_start, length in runs:
            charge += run_price(table, table.bands[index], run_start - first, length)
        if table.daily_cap is not None:
            charge = min(charge, table.daily_cap)
        total += charge
    if rates.max_per_stay is not None:
        total = min(total, rates.max_per_stay)
    return total


def run_price(table: RateTable, b: Band, offset: int, length: int) -> int:
    """A run of ``length`` minutes in one band, starting ``offset`` minutes into its day."""
    unit = b.unit_minutes or table.unit_minutes
    price = 0
    for i in range(divide(length, unit, Rounding(table.rounding))):
        elapsed = offset + i * unit
        started = [t for t in b.tiers or [] if t.after_minutes <= elapsed]
        price += started[-1].unit_price if started else b.unit_price or 0
    return price


def band_at(bands_: list[Band], minute: int) -> int:
    for index, b in enumerate(bands_):
        start, end = minute_of_day(b.start), minute_of_day(b.end)
        if (start <= minute < end) if start < end else (minute >= start or minute < end):
            return index
    raise AssertionError(f"no band at minute {minute}")


class TestProperties:
    """Invariants of every parking quote."""

    @settings(max_examples=150, deadline=None)
    @given(tariffs(), entries, seconds, seconds)
    def test_never_negative_and_never_lower_for_a_longer_stay(
        self, tariff: Tariff, entry: datetime, a: int, b: int
    ) -> None:
        # Times count to the second; the stays here are not whole minutes.
        compiled = compile_tariff(tariff)
        shorter, longer = fee(compiled, entry, 0, min(a, b)), fee(compiled, entry, 0, max(a, b))
        assert 0 <= shorter <= longer

    @settings(max_examples=100, deadline=None)
    @given(tariffs(), entries, stays)
    def test_never_above_the_caps(self, tariff: Tariff, entry: datetime, minutes: int) -> None:
        scheme = tariff.versions[0].parking
        assert scheme is not None
        rates = scheme.classes[1]
        total = fee(compile_tariff(tariff), entry, minutes)
        if rates.max_per_stay is not None:
            assert total <= rates.max_per_stay
        caps = [t.daily_cap for t in (rates, rates.holiday) if t is not None]
        if scheme.daily_cap_mode == "rolling_24h" and None not in caps:
            days = max(1, -(-minutes // (24 * 60)))
            assert total <= days * max(c for c in caps if c is not None)

    @settings(max_examples=100, deadline=None)
    @given(tariffs(), entries, st.integers(0, 30))
    def test_free_within_free_minutes(self, tariff: Tariff, entry: datetime, minutes: int) -> None:
        scheme = tariff.versions[0].parking
        assert scheme is not None
        if minutes <= scheme.free_minutes:
            assert fee(compile_tariff(tariff), entry, minutes) == 0

    @settings(max_examples=100, deadline=None)
    @given(tariffs(), entries, stays)
    def test_deterministic(self, tariff: Tariff, entry: datetime, minutes: int) -> None:
        first = compile_tariff(tariff)
        passage = FeeQuery(entry=real(first, entry), exit=real(first, entry, minutes * 60))
        again = compile_tariff(tariff)
        assert quote(first, passage) == quote(first, passage) == quote(again, passage)

    @settings(max_examples=150, deadline=None)
    @given(tariffs(), entries, stays)
    def test_matches_the_minute_by_minute_reference(
        self, tariff: Tariff, entry: datetime, minutes: int
    ) -> None:
        assert fee(compile_tariff(tariff), entry, minutes) == reference(tariff, entry, minutes)


def itemised(tariff: Tariff) -> Tariff:
    """``tariff`` with every charging day on its own receipt lines."""
    version = tariff.versions[0]
    assert version.parking is not None
    parking = version.parking.model_copy(update={"itemised_days": LONGEST_MAX_STAY_DAYS})
    return tariff.model_copy(update={"versions": [version.model_copy(update={"parking": parking})]})


BAND_LINE = re.compile(r".* (b\d+): (\d+) × (\d+) min")


def band_sums(items: tuple[FeeLine, ...]) -> dict[str, list[int]]:
    """Units and amount per band (the strategy's bands are ``b0``...), of the cap lines,
    and of each other line."""
    sums: dict[str, list[int]] = {}
    for item in items:
        line = BAND_LINE.fullmatch(item.label)
        if line is not None:
            key, units = f"{line[1]} of {line[3]} min", int(line[2])
        else:
            key, units = ("daily cap" if item.label.endswith(" daily cap") else item.label), 0
        tally = sums.setdefault(key, [0, 0])
        tally[0] += units
        tally[1] += item.amount
    return sums


weeks = st.integers(0, 3 * 7 * 24 * 3600)


class TestSummarisedReceipts:
    """A long stay's folded receipt adds up to what its day-by-day receipt does."""

    @settings(max_examples=100, deadline=None)
    @given(tariffs(), entries, weeks)
    def test_same_total_units_and_amounts(self, tariff: Tariff, entry: datetime, s: int) -> None:
        summarised, by_day = compile_tariff(tariff), compile_tariff(itemised(tariff))
        start = real(summarised, entry)
        passage = FeeQuery(entry=start, exit=real(summarised, entry, s))
        short, long = quote(summarised, passage), quote(by_day, passage)
        assert short.total == long.total
        assert len(short.items) <= len(long.items)
        assert band_sums(short.items) == band_sums(long.items)
