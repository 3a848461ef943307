"""Parking tariffs: one worked example per feature, amounts computed by hand (fen)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from edge.fees.passage import FeeLine, QuoteError
from edge.fees.testing import DAY_NIGHT, at, band, cls, compiled, parking, price, total

# Unless a test says otherwise: day 08:00-20:00 costs 200 per 30 min, night
# 20:00-08:00 costs 100 per 60 min, partial units round up, rolling 24 h days.


class TestFreeMinutes:
    """A stay up to the free minutes is free; a longer one is charged from the entry."""

    def test_within_free_minutes(self) -> None:
        tariff = compiled(parking(free_minutes=15))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-02 09:15")
        assert fee.items == (FeeLine("free stay (up to 15 min)", 0),)
        assert fee.total == 0

    def test_one_minute_more_pays_from_the_entry(self) -> None:
        # 09:00-09:16 is 16 min: one started 30 min day unit = 200.
        tariff = compiled(parking(free_minutes=15))
        assert total(tariff, "2026-03-02 09:00", "2026-03-02 09:16") == 200


class TestBillingUnitRounding:
    """A partial billing unit counts as the table's rounding says."""

    @pytest.mark.parametrize(
        ("rounding", "exit_", "expected"),
        [
            # 61 min = 2 units + 1 min: up -> 3 units = 600; down -> 2 units = 400.
            ("up", "10:01", 600),
            ("down", "10:01", 400),
            # 74 min = 2 units + 14 min (< half of 30): half_up -> 2 units = 400.
            ("half_up", "10:14", 400),
            # 75 min = 2 units + 15 min (exactly half): half_up -> 3 units = 600.
            ("half_up", "10:15", 600),
        ],
    )
    def test_partial_unit(self, rounding: str, exit_: str, expected: int) -> None:
        tariff = compiled(parking({1: cls(rounding=rounding)}))
        assert total(tariff, "2026-03-02 09:00", f"2026-03-02 {exit_}") == expected


class TestFirstPeriod:
    """The first period costs one price, then units are charged."""

    def test_first_period_then_units(self) -> None:
        # 09:00-10:00 first hour 500; 10:00-11:10 = 70 min = 3 units x 200 = 600. Total 1100.
        tariff = compiled(parking({1: cls(first_period_minutes=60, first_period_price=500)}))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-02 11:10")
        assert fee.items == (
            FeeLine("first 60 min", 500),
            FeeLine("day 1 day: 3 × 30 min", 600),
        )
        assert fee.total == 1100

    def test_stay_shorter_than_first_period(self) -> None:
        # 20 min (past the 15 free) costs the whole first period: 500.
        tariff = compiled(
            parking(
                {1: cls(first_period_minutes=60, first_period_price=500)},
                free_minutes=15,
            )
        )
        assert total(tariff, "2026-03-02 09:00", "2026-03-02 09:20") == 500


TIERED_DAY = [
    band(
        "day",
        "08:00",
        "20:00",
        tiers=[{"after_minutes": 0, "unit_price": 200}, {"after_minutes": 120, "unit_price": 100}],
    ),
    DAY_NIGHT[1],
]


class TestTiers:
    """Each unit costs the tier price in force at its start, counted from the charging day's start."""

    def test_tiers(self) -> None:
        # 09:00-13:00 = 8 units starting 0, 30, ..., 210 min in: the 4 starting
        # before 120 min cost 200, the other 4 cost 100: 800 + 400 = 1200.
        tariff = compiled(parking({1: cls(bands=TIERED_DAY)}))
        assert total(tariff, "2026-03-02 09:00", "2026-03-02 13:00") == 1200

    def test_tiers_after_first_period(self) -> None:
        # First hour 500; 10:00-13:00 = 6 units starting 60, 90 (200 each) and
        # 120, 150, 180, 210 min in (100 each): 400 + 400. Total 1300.
        tariff = compiled(
            parking({1: cls(bands=TIERED_DAY, first_period_minutes=60, first_period_price=500)})
        )
        assert total(tariff, "2026-03-02 09:00", "2026-03-02 13:00") == 1300


class TestTimeBands:
    """Stays are split exactly at band edges; midnight does not split a band."""

    def test_split_at_the_evening_edge(self) -> None:
        # 19:00-20:00 day: 2 units = 400; 20:00-21:30 night: 90 min = 2 hour units = 200.
        tariff = compiled(parking())
        fee = price(tariff, "2026-03-02 19:00", "2026-03-02 21:30")
        assert fee.items == (
            FeeLine("day 1 day: 2 × 30 min", 400),
            FeeLine("day 1 night: 2 × 60 min", 200),
        )
        assert fee.total == 600

    def test_split_at_the_morning_edge(self) -> None:
        # 07:50-08:00 night: 1 unit = 100; 08:00-08:10 day: 1 unit = 200. Total 300.
        tariff = compiled(parking())
        assert total(tariff, "2026-03-02 07:50", "2026-03-02 08:10") == 300

    def test_night_band_is_one_segment_across_midnight(self) -> None:
        # 23:30-00:30 is 60 min of night: 1 unit = 100 (not 2 half-used units).
        tariff = compiled(parking())
        assert total(tariff, "2026-03-02 23:30", "2026-03-03 00:30") == 100

    def test_band_edges_follow_local_time_on_a_daylight_saving_day(self) -> None:
        # Berlin 2026-03-29: clocks go 02:00 -> 03:00. 00:00-08:00 local is 7 real
        # hours of night: 7 units = 700; 08:00-09:00 day: 2 units = 400. Total 1100.
        berlin = ZoneInfo("Europe/Berlin")
        tariff = compiled(parking(), timezone="Europe/Berlin")
        assert tariff.clock.tz == berlin
        assert total(tariff, "2026-03-29 00:00", "2026-03-29 09:00") == 1100


class TestDailyCap:
    """A charging day costs at most the cap; days are rolling 24 h or calendar days."""

    def test_rolling_24h(self) -> None:
        # 03-02 09:00 -> 03-03 12:00. Day 1 (09:00 -> 09:00): day 09-20 = 22 units
        # = 4400, night 20-08 = 12 units = 1200, day 08-09 = 2 units = 400: 6000,
        # capped at 1500. Day 2 (09:00 -> 12:00): 6 units = 1200. Total 2700.
        tariff = compiled(parking({1: cls(daily_cap=1500)}, daily_cap_mode="rolling_24h"))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-03 12:00")
        assert FeeLine("day 1 daily cap", -4500) in fee.items
        assert fee.total == 2700

    def test_calendar_day(self) -> None:
        # 03-02 09:00-24:00: day 22 units = 4400 + night 20-24 = 4 units = 400:
        # 4800, capped 1500. 03-03 00:00-12:00: night 8 units = 800 + day 08-12 =
        # 8 units = 1600: 2400, capped 1500. Total 3000.
        tariff = compiled(parking({1: cls(daily_cap=1500)}, daily_cap_mode="calendar_day"))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-03 12:00")
        assert FeeLine("2026-03-02 daily cap", -3300) in fee.items
        assert FeeLine("2026-03-03 daily cap", -900) in fee.items
        assert fee.total == 3000


class TestMaximumPerStay:
    """However long the stay, it costs at most the maximum per stay."""

    def test_long_stay(self) -> None:
        # 5 rolling days of 6000 each, capped at 1500 a day: 7500; maximum 4000.
        tariff = compiled(parking({1: cls(daily_cap=1500, max_per_stay=4000)}))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-07 09:00")
        assert fee.items[-1] == FeeLine("maximum per stay", -3500)
        assert fee.total == 4000


class TestLostTicket:
    """An exit without an entry record pays the class's lost-ticket fee."""

    def test_lost_ticket(self) -> None:
        tariff = compiled(parking({1: cls(), 2: cls(lost_ticket_fee=9000)}))
        fee = price(tariff, None, "2026-03-02 09:00")
        assert fee.items == (FeeLine("lost ticket / no entry record", 5000),)
        assert total(tariff, None, "2026-03-02 09:00", vehicle_class=2) == 9000


class TestVehicleClasses:
    """Each vehicle class has its own table; an unknown class is refused."""

    def test_class_tables(self) -> None:
        # 09:00-10:00: 2 day units; class 1 at 200 = 400, class 2 at 400 = 800.
        large = cls(bands=[band("all day", "00:00", "24:00", unit_price=400)])
        tariff = compiled(parking({1: cls(), 2: large}))
        assert total(tariff, "2026-03-02 09:00", "2026-03-02 10:00", vehicle_class=1) == 400
        assert total(tariff, "2026-03-02 09:00", "2026-03-02 10:00", vehicle_class=2) == 800

    def test_unknown_class(self) -> None:
        tariff = compiled(parking())
        with pytest.raises(
            QuoteError, match=r"vehicle class 3 has no parking rates \(classes: 1\)"
        ):
            total(tariff, "2026-03-02 09:00", "2026-03-02 10:00", vehicle_class=3)


HOLIDAY_TABLE = {
    "unit_minutes": 60,
    "daily_cap": 2000,
    "bands": [band("all day", "00:00", "24:00", unit_price=300)],
}
MAY_DAY = [{"name": "May Day", "first": "2026-05-01", "last": "2026-05-05"}]


class TestHolidays:
    """A charging day starting on a holiday uses the holiday rates."""

    def test_holiday_rates(self) -> None:
        # 10:00-13:30 on 05-01: 3.5 h in hour units at 300 = 4 units = 1200.
        tariff = compiled(parking({1: cls(holiday=HOLIDAY_TABLE)}), holidays=MAY_DAY)
        fee = price(tariff, "2026-05-01 10:00", "2026-05-01 13:30")
        assert fee.items == (FeeLine("day 1 (May Day) all day: 4 × 60 min", 1200),)

    def test_ordinary_day_after_the_holiday(self) -> None:
        # 10:00-13:30 on 05-06: 7 day units of 30 min at 200 = 1400.
        tariff = compiled(parking({1: cls(holiday=HOLIDAY_TABLE)}), holidays=MAY_DAY)
        assert total(tariff, "2026-05-06 10:00", "2026-05-06 13:30") == 1400

    def test_charging_day_is_judged_by_its_start(self) -> None:
        # Entry 04-30 22:00 (no holiday) to 05-01 02:00: ordinary night, 4 units = 400.
        tariff = compiled(parking({1: cls(holiday=HOLIDAY_TABLE)}), holidays=MAY_DAY)
        assert total(tariff, "2026-04-30 22:00", "2026-05-01 02:00") == 400


class TestGracePeriod:
    """After paying, leaving within the grace period costs nothing more."""

    def test_within_grace(self) -> None:
        # Paid 400 at 10:00 for 09:00-10:00; leaves 10:10, within the 10 min grace: 0.
        tariff = compiled(parking(grace_minutes=10))
        fee = price(
            tariff,
            "2026-03-02 09:00",
            "2026-03-02 10:10",
            paid_at=at("2026-03-02 10:00"),
            paid_amount=400,
        )
        assert fee.items == (FeeLine("paid, leaving within the 10 min grace period", 0),)
        assert fee.total == 0

    def test_after_grace_pays_the_difference(self) -> None:
        # Leaves 10:11: 09:00-10:11 = 3 units = 600, less 400 paid = 200.
        tariff = compiled(parking(grace_minutes=10))
        fee = price(
            tariff,
            "2026-03-02 09:00",
            "2026-03-02 10:11",
            paid_at=at("2026-03-02 10:00"),
            paid_amount=400,
        )
        assert fee.items[-1] == FeeLine("already paid", -400)
        assert fee.total == 200

    def test_payment_outside_the_stay_is_refused(self) -> None:
        tariff = compiled(parking(grace_minutes=10))
        with pytest.raises(
            QuoteError, match="payment time must lie between the entry and the exit"
        ):
            price(
                tariff,
                "2026-03-02 09:00",
                "2026-03-02 10:11",
                paid_at=at("2026-03-02 11:00"),
                paid_amount=400,
            )


class TestVersions:
    """The version in force at the exit prices the whole stay."""

    def test_version_at_exit(self) -> None:
        # Exit 05-31 23:59 -> version 1: 23:00-23:59 night, 1 unit = 100.
        # Exit 06-01 00:30 -> version 2 for the whole stay: 90 min = 3 units x 300 = 900.
        tariff = compiled(
            parking(),
            {
                "effective_from": "2026-06-01T00:00:00",
                **parking({1: cls(bands=[band("all day", "00:00", "24:00", unit_price=300)])}),
            },
        )
        first = price(tariff, "2026-05-31 23:00", "2026-05-31 23:59")
        assert (first.version, first.total) == (1, 100)
        second = price(tariff, "2026-05-31 23:00", "2026-06-01 00:30")
        assert (second.version, second.total) == (2, 900)

    def test_before_the_first_version(self) -> None:
        tariff = compiled(parking())
        with pytest.raises(
            QuoteError, match=r"no version of tariff test is in force at 2025-12-31"
        ):
            total(tariff, "2025-12-31 09:00", "2025-12-31 10:00")
