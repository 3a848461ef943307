"""Pricing a parking stay.

How a stay ``[entry, exit)`` is priced (all of it is documented for operators in
the tariff field descriptions; this is the exact order):

1. No entry record: the class's lost-ticket fee, nothing else.
2. Free-minute coupons move the billed exit earlier. A billed stay of at most
   ``free_minutes`` is free; a longer one is charged from the entry.
3. The stay is cut into charging days: 24 h periods from the entry
   (``rolling_24h``) or calendar days ending at local midnight
   (``calendar_day``). A charging day is priced with the class's holiday rates
   when it starts on a holiday of the calendar, else with its ordinary rates.
4. In the first charging day the first period (``first_period_minutes`` from
   the entry) costs ``first_period_price`` as one block.
5. The rest is cut exactly at band edges (and at the ends of charging days)
   into segments; a band wrapping midnight is one segment across midnight.
   Each segment is a whole number of billing units (the partial last unit
   rounded as the table says); each unit costs the tier price in force at the
   unit's start, measured from the start of the charging day.
6. A charging day costs at most its table's ``daily_cap``; the stay costs at
   most ``max_per_stay``.
7. The receipt lists the charging days one by one, or, for a stay of more
   than ``itemised_days`` charging days, each run of consecutive days priced
   alike once with the sums of its days (same total; a year is a few lines).

The engine refuses a stay longer than ``max_stay_days`` before any of this
(:func:`edge.fees.engine.quote`).

Everything is integer arithmetic over UTC seconds, walking band edges, never
minute by minute.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from contracts.money import Rounding, divide
from contracts.tariff import Band, CapMode, Parking, ParkingClass, RateTable
from edge.fees.clock import LocalClock
from edge.fees.passage import FeeLine, QuoteError

DAY_S = 24 * 3600


class _Band:
    __slots__ = ("name", "prices", "starts", "unit_minutes", "unit_s")

    def __init__(self, band: Band, default_unit: int) -> None:
        self.name = band.name
        self.unit_minutes = band.unit_minutes or default_unit
        self.unit_s = self.unit_minutes * 60
        tiers = band.tiers or []
        self.starts = tuple(t.after_minutes * 60 for t in tiers) or (0,)
        self.prices = tuple(t.unit_price for t in tiers) or (band.unit_price or 0,)

    def price(self, units: int, elapsed: int) -> int:
        """Price of ``units`` units, the first starting ``elapsed`` s into the charging day."""
        if len(self.prices) == 1:
            return units * self.prices[0]
        unit_s, starts, total = self.unit_s, self.starts, 0
        # Unit i starts at elapsed + i * unit_s; it takes the price of the last tier started by then.
        lo = 0
        for j in range(len(starts)):
            hi = (
                units
                if j + 1 == len(starts)
                else min(units, max(0, -((elapsed - starts[j + 1]) // unit_s)))
            )
            if hi > lo:
                total += (hi - lo) * self.prices[j]
                lo = hi
        return total


class _Table:
    """A rate table compiled: bands, and the day's band edges as a template of minutes."""

    def __init__(self, table: RateTable, clock: LocalClock) -> None:
        self.clock = clock
        self.rounding: Rounding = table.rounding
        self.first_s = table.first_period_minutes * 60
        self.first_minutes = table.first_period_minutes
        self.first_price = table.first_period_price
        self.cap = table.daily_cap
        self.bands = tuple(_Band(b, table.unit_minutes) for b in table.bands)
        owner = sorted(
            (start, index) for index, band in enumerate(table.bands) for start, _ in band.pieces()
        )
        template: list[tuple[int, int]] = []
        for start, index in owner:
            if not template or template[-1][1] != index:
                template.append((start, index))
        self.template = tuple(template)
        self.day_edges = lru_cache(maxsize=4096)(self._day_edges)

    def _day_edges(self, ordinal: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Instants at which a band starts on this local date, and which band."""
        times = tuple(self.clock.wall(ordinal, minute) for minute, _ in self.template)
        return times, tuple(index for _, index in self.template)

    def charge(self, start: int, end: int, day_start: int, units: dict[int, list[int]]) -> int:
        """Price ``[start, end)`` within the charging day that began at ``day_start``.

        Adds ``[units, amount]`` per band index into ``units``; returns the amount.
        """
        ordinal = self.clock.ordinal(start)
        times, owners = self.day_edges(ordinal)
        i = max(0, bisect_right(times, start) - 1)
        band, seg_start, total = owners[i], start, 0
        i += 1
        while True:
            if i == len(times):
                ordinal += 1
                times, owners = self.day_edges(ordinal)
                i = 0
            edge = times[i]
            if edge >= end:
                total += self._segment(band, seg_start, end, day_start, units)
                return total
            if owners[i] != band:
                total += self._segment(band, seg_start, edge, day_start, units)
                band, seg_start = owners[i], edge
            i += 1

    def _segment(
        self, index: int, start: int, end: int, day_start: int, units: dict[int, list[int]]
    ) -> int:
        band = self.bands[index]
        count = divide(end - start, band.unit_s, self.rounding)
        if not count:
            return 0
        amount = band.price(count, start - day_start)
        tally = units.setdefault(index, [0, 0])
        tally[0] += count
        tally[1] += amount
        return amount


class _Class:
    __slots__ = ("holiday", "lost_ticket_fee", "max_per_stay", "ordinary")

    def __init__(self, rates: ParkingClass, clock: LocalClock) -> None:
        self.ordinary = _Table(rates, clock)
        self.holiday = _Table(rates.holiday, clock) if rates.holiday else None
        self.max_per_stay = rates.max_per_stay
        self.lost_ticket_fee = rates.lost_ticket_fee


@dataclass(slots=True)
class _Run:
    """Consecutive charging days priced alike: the first one's number and date, how many,
    and what each of them costs (per band ``index: [units, amount]``, and its cap line)."""

    number: int
    ordinal: int
    holiday: str | None
    table: _Table
    tally: dict[int, list[int]]
    cap: int
    days: int = 1


class ParkingPricing:
    """A parking scheme compiled for quoting."""

    def __init__(self, scheme: Parking, clock: LocalClock, holidays: Mapping[int, str]) -> None:
        self.clock = clock
        self.holidays = holidays
        self.free_s = scheme.free_minutes * 60
        self.free_minutes = scheme.free_minutes
        self.grace_s = scheme.grace_minutes * 60
        self.grace_minutes = scheme.grace_minutes
        self.rolling = scheme.daily_cap_mode is CapMode.ROLLING_24H
        self.max_stay_days = scheme.max_stay_days
        self.max_stay_s = scheme.max_stay_days * DAY_S
        self.itemised_days = scheme.itemised_days
        self.classes = {number: _Class(rates, clock) for number, rates in scheme.classes.items()}

    def rates_for(self, vehicle_class: int) -> _Class:
        rates = self.classes.get(vehicle_class)
        if rates is None:
            known = ", ".join(str(c) for c in sorted(self.classes))
            raise QuoteError(
                f"vehicle class {vehicle_class} has no parking rates (classes: {known})"
            )
        return rates

    def price(self, vehicle_class: int, entry: int | None, exit_: int) -> list[FeeLine]:
        """Items of the stay ``[entry, exit_)`` (UTC seconds); ``entry`` None: no entry record."""
        rates = self.rates_for(vehicle_class)
        if entry is None:
            return [FeeLine("lost ticket / no entry record", rates.lost_ticket_fee)]
        if exit_ - entry <= self.free_s:
            return [FeeLine(f"free stay (up to {self.free_minutes} min)", 0)]
        items: list[FeeLine] = []
        days = self._charging_days(entry, exit_)
        fold = len(days) > self.itemised_days
        runs: list[_Run] = []
        total = 0
        billed_from = entry
        for number, (day_start, day_end, ordinal) in enumerate(days):
            holiday = self.holidays.get(ordinal) if rates.holiday else None
            table = rates.holiday if holiday and rates.holiday else rates.ordinary
            charge = 0
            if number == 0 and table.first_s:
                items.append(FeeLine(f"first {table.first_minutes} min", table.first_price))
                charge = table.first_price
                billed_from = entry + table.first_s
            tally: dict[int, list[int]] = {}
            start = max(day_start, billed_from)
            if start < day_end:
                charge += table.charge(start, day_end, day_start, tally)
            cap = 0
            if table.cap is not None and charge > table.cap:
                cap = table.cap - charge
                charge = table.cap
            total += charge
            last = runs[-1] if runs else None
            if (
                fold
                and last is not None
                and last.table is table
                and last.holiday == holiday
                and last.tally == tally
                and last.cap == cap
            ):
                last.days += 1
            else:
                runs.append(_Run(number, ordinal, holiday, table, tally, cap))
        for run in runs:
            self._lines(run, items)
        if rates.max_per_stay is not None and total > rates.max_per_stay:
            items.append(FeeLine("maximum per stay", rates.max_per_stay - total))
        return items

    def _lines(self, run: _Run, items: list[FeeLine]) -> None:
        """Append the receipt lines of ``run``: one day's, or the sums of all its days.

        Only a stay of more than ``itemised_days`` charging days has runs of
        more than one day; their lines carry the units and amounts of all the
        run's days, so the total is the one of an itemised receipt.
        """
        if self.rolling:
            label = f"day {run.number + 1}"
            if run.days > 1:
                label = f"days {run.number + 1}–{run.number + run.days}"
        else:
            label = date.fromordinal(run.ordinal).isoformat()
            if run.days > 1:
                label += f"–{date.fromordinal(run.ordinal + run.days - 1).isoformat()}"
        if run.holiday:
            label += f" ({run.holiday})"
        for index, (count, amount) in run.tally.items():
            band = run.table.bands[index]
            items.append(
                FeeLine(
                    f"{label} {band.name}: {count * run.days} × {band.unit_minutes} min",
                    amount * run.days,
                )
            )
        if run.cap:
            items.append(FeeLine(f"{label} daily cap", run.cap * run.days))

    def _charging_days(self, entry: int, exit_: int) -> list[tuple[int, int, int]]:
        """``(start, end, local date ordinal of start)`` of each charging day of the stay."""
        days: list[tuple[int, int, int]] = []
        start = entry
        ordinal = self.clock.ordinal(entry)
        while start < exit_:
            if self.rolling:
                end = start + DAY_S
                days.append(
                    (start, min(end, exit_), self.clock.ordinal(start) if days else ordinal)
                )
            else:
                end = self.clock.midnight_after(ordinal)
                days.append((start, min(end, exit_), ordinal))
                ordinal += 1
            start = end
        return days
