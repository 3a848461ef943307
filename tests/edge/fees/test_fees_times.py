"""Times an operator can mistype, and stays too long to be real: clear errors, short receipts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.records.sealed import GENESIS_HASH, TransactionRecord
from contracts.records.transaction import Transaction
from contracts.tariff import Tariff
from edge.fees.clock import LocalClock
from edge.fees.engine import quote
from edge.fees.passage import FeeLine, FeeQuery, QuoteError
from edge.fees.testing import at, band, cls, compiled, parking, price, tariff_data

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = [band("all day", "00:00", "24:00", unit_minutes=60, unit_price=100)]


def hourly(**scheme: Any) -> dict[str, Any]:
    """A parking version: 100 an hour round the clock, started hours round up."""
    return parking({1: cls(bands=HOUR)}, **scheme)


class TestCalendarEnds:
    """Times outside the years 1970 to 2199 are refused with a QuoteError naming them."""

    @pytest.mark.parametrize(
        ("passage", "message"),
        [
            (
                FeeQuery(entry=datetime(1, 1, 1, tzinfo=UTC), exit=at("2026-03-02 09:00")),
                "entry time 0001-01-01T00:00:00+00:00 is outside",
            ),
            (
                FeeQuery(
                    entry=datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),
                    exit=at("2026-03-02 09:00"),
                ),
                "entry time 0001-01-01T00:00:00+08:05:43 is outside",
            ),
            (
                FeeQuery(
                    entry=at("2026-03-02 09:00"),
                    exit=datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
                ),
                "exit time 9999-12-31T23:59:00-05:00 is outside",
            ),
            (
                FeeQuery(
                    entry=at("2026-03-02 09:00"), exit=datetime(9999, 12, 31, tzinfo=NEW_YORK)
                ),
                "exit time 9999-12-31T00:00:00-05:00 is outside",
            ),
            (
                FeeQuery(
                    entry=at("2026-03-02 09:00"),
                    exit=at("2026-03-02 12:00"),
                    paid_at=datetime(2200, 1, 1, tzinfo=UTC),
                ),
                "payment time 2200-01-01T00:00:00+00:00 is outside",
            ),
        ],
        ids=["year 1 UTC", "year 1 local", "year 9999 west", "year 9999 zone", "payment 2200"],
    )
    def test_refused(self, passage: FeeQuery, message: str) -> None:
        with pytest.raises(QuoteError, match="the years 1970 to 2199") as refused:
            quote(compiled(hourly()), passage)
        assert message in str(refused.value)

    def test_local_time_at_the_ends(self) -> None:
        clock = LocalClock("America/New_York")
        for wall in (datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime.max):
            with pytest.raises(QuoteError, match=r"--exit .* \(America/New_York\) is outside"):
                clock.local_time(wall, "--exit")

    @settings(max_examples=300, deadline=None)
    @given(
        st.datetimes(timezones=st.sampled_from([UTC, NEW_YORK, BERLIN, ZoneInfo("Asia/Tokyo")])),
        st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), NEW_YORK])),
    )
    def test_any_aware_times_price_or_raise_a_quote_error(
        self, entry: datetime, exit_: datetime
    ) -> None:
        tariff = compiled(hourly(max_stay_days=3660))
        try:
            fee = quote(tariff, FeeQuery(entry=entry, exit=exit_))
        except QuoteError:
            return
        assert fee.total >= 0


def new_york_refusal(entry: str, exit_: datetime) -> str:
    """Why an hourly New York tariff refuses the stay from local ``entry`` to ``exit_``."""
    tariff = compiled(hourly(), timezone="America/New_York")
    with pytest.raises(QuoteError) as refused:
        quote(tariff, FeeQuery(entry=at(entry, NEW_YORK), exit=exit_))
    return str(refused.value)


class TestSkippedLocalTimes:
    """A local time the clocks skip (spring forward) is refused, whatever its fold."""

    @pytest.mark.parametrize("fold", [0, 1])
    def test_engine_refuses(self, fold: int) -> None:
        # New York, 2026-03-08: 02:00 becomes 03:00. Read as 01:30 -> 02:30 it
        # would be moved an hour (a one-hour stay priced as none, or as two).
        gap = datetime(2026, 3, 8, 2, 30, tzinfo=NEW_YORK, fold=fold)
        assert new_york_refusal("2026-03-08 01:30", gap) == (
            "exit time 2026-03-08T02:30:00 does not exist in America/New_York: the clocks "
            "skip it (the UTC offset changes from -05:00 to -04:00); check the time, or "
            "give it with its UTC offset"
        )

    @pytest.mark.parametrize("fold", [None, 0, 1])
    def test_local_time_refuses(self, fold: int | None) -> None:
        with pytest.raises(
            QuoteError, match="--entry 2026-03-29T02:00:00 does not exist in Europe"
        ):
            LocalClock("Europe/Berlin").local_time(datetime(2026, 3, 29, 2, 0), "--entry", fold)

    def test_times_either_side_of_the_gap_price_real_time(self) -> None:
        # 01:30 CET to 03:30 CEST is one real hour.
        tariff = compiled(hourly(), timezone="Europe/Berlin")
        assert price(tariff, "2026-03-29 01:30", "2026-03-29 03:30").total == 100
        assert price(tariff, "2026-03-29 01:30", "2026-03-29 03:31").total == 200


class TestRepeatedLocalTimes:
    """A local time the clocks show twice (fall back) is refused unless its offset is given."""

    @pytest.mark.parametrize("fold", [0, 1])
    def test_engine_refuses_a_zone_local_time(self, fold: int) -> None:
        # New York, 2026-11-01: 02:00 becomes 01:00; 01:30 happens twice.
        repeat = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=fold)
        assert new_york_refusal("2026-11-01 00:30", repeat) == (
            "exit time 2026-11-01T01:30:00 is ambiguous in America/New_York: the clocks show "
            "it twice, at UTC offset -04:00 and then -05:00; give it with its offset (e.g. "
            "2026-11-01T01:30:00-04:00 for the first)"
        )

    @pytest.mark.parametrize(("hours", "amount"), [(-4, 100), (-5, 200)])
    def test_a_fixed_offset_says_which(self, hours: int, amount: int) -> None:
        tariff = compiled(hourly(), timezone="America/New_York")
        exit_ = datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=hours)))
        fee = quote(tariff, FeeQuery(entry=at("2026-11-01 00:30", NEW_YORK), exit=exit_))
        assert fee.total == amount

    def test_local_time_refuses_without_a_fold(self) -> None:
        clock = LocalClock("America/New_York")
        with pytest.raises(QuoteError, match="--exit 2026-11-01T01:30:00 is ambiguous"):
            clock.local_time(datetime(2026, 11, 1, 1, 30), "--exit")

    @pytest.mark.parametrize(("fold", "offset"), [(0, -4), (1, -5)])
    def test_local_time_with_a_fold(self, fold: int, offset: int) -> None:
        moment = LocalClock("America/New_York").local_time(datetime(2026, 11, 1, 1, 30), "x", fold)
        assert moment.utcoffset() == timedelta(hours=offset)
        assert moment.replace(tzinfo=None) == datetime(2026, 11, 1, 1, 30)

    def test_an_ordinary_local_time_needs_no_fold(self) -> None:
        moment = LocalClock("Europe/Berlin").local_time(datetime(2026, 10, 25, 3, 30), "x")
        assert moment.utcoffset() == timedelta(hours=1)
        summer = LocalClock("Europe/Berlin").local_time(datetime(2026, 7, 1, 12, 0), "x", 1)
        assert summer.utcoffset() == timedelta(hours=2)


class TestMaximumStay:
    """A parking stay longer than the version's max_stay_days is refused, naming both times."""

    def test_default_is_366_days(self) -> None:
        tariff = compiled(hourly())
        entry = at("2026-01-01 10:00")
        assert quote(tariff, FeeQuery(entry=entry, exit=entry + timedelta(days=366))).total > 0
        with pytest.raises(QuoteError) as refused:
            quote(tariff, FeeQuery(entry=entry, exit=entry + timedelta(days=366, seconds=1)))
        assert str(refused.value) == (
            "the stay from 2026-01-01 10:00 to 2027-01-02 10:00 lasts 366 days, longer than "
            "the 366 days tariff test prices (max_stay_days): check the entry time"
        )

    def test_a_tariff_sets_it(self) -> None:
        tariff = compiled(hourly(max_stay_days=2))
        assert price(tariff, "2026-03-02 09:00", "2026-03-04 09:00").total == 4800
        with pytest.raises(QuoteError, match="lasts 2 days, longer than the 2 days"):
            price(tariff, "2026-03-02 09:00", "2026-03-04 09:01")

    def test_the_stay_before_coupons_counts(self) -> None:
        # A free-minute coupon shortens the billed stay, not the stay itself.
        coupons = [{"code": "H2", "name": "2 h", "free_minutes": 120}]
        tariff = compiled(hourly(max_stay_days=1), coupons=coupons)
        with pytest.raises(QuoteError, match="longer than the 1 days"):
            price(tariff, "2026-03-02 09:00", "2026-03-03 10:00", coupons=("H2",))

    @pytest.mark.parametrize("days", [0, 3661])
    def test_bounds(self, days: int) -> None:
        with pytest.raises(ValidationError, match="max_stay_days"):
            Tariff.model_validate(tariff_data(hourly(max_stay_days=days)))


def labels(fee_items: tuple[FeeLine, ...]) -> list[str]:
    return [item.label for item in fee_items]


class TestLongStayReceipts:
    """Past itemised_days charging days, runs of days priced alike are one set of lines."""

    def test_rolling_days(self) -> None:
        # From 09:00: a day is 22 day units (4400) + 12 night units (1200) + 2 day
        # units (400) = 6000, capped at 1500. Ten days alike, then a day of 3 h.
        tariff = compiled(parking({1: cls(daily_cap=1500)}, itemised_days=7))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-12 12:00")
        assert fee.items == (
            FeeLine("days 1–10 day: 240 × 30 min", 48000),
            FeeLine("days 1–10 night: 120 × 60 min", 12000),
            FeeLine("days 1–10 daily cap", -45000),
            FeeLine("day 11 day: 6 × 30 min", 1200),
        )
        assert fee.total == 10 * 1500 + 1200

    def test_up_to_itemised_days_each_day_is_listed(self) -> None:
        tariff = compiled(parking({1: cls(daily_cap=1500)}, itemised_days=11))
        fee = price(tariff, "2026-03-02 09:00", "2026-03-12 12:00")
        assert labels(fee.items)[:3] == [
            "day 1 day: 24 × 30 min",
            "day 1 night: 12 × 60 min",
            "day 1 daily cap",
        ]
        assert len(fee.items) == 10 * 3 + 1
        assert fee.total == 10 * 1500 + 1200

    def test_calendar_days_holidays_and_daylight_saving_break_runs(self) -> None:
        # Berlin, March 2026, calendar days, holiday rates on 03-28/29 (the 29th
        # is also the 23 h day); the first day has a first hour.
        holiday = {"unit_minutes": 60, "bands": HOUR, "daily_cap": 900}
        rates = cls(bands=HOUR, first_period_minutes=60, first_period_price=300, holiday=holiday)
        tariff = compiled(
            parking({1: rates}, daily_cap_mode="calendar_day"),
            timezone="Europe/Berlin",
            holidays=[{"name": "Easter break", "first": "2026-03-28", "last": "2026-03-29"}],
        )
        fee = price(tariff, "2026-03-20 10:00", "2026-04-02 00:00", vehicle_class=1)
        assert labels(fee.items) == [
            "first 60 min",
            "2026-03-20 all day: 13 × 60 min",
            "2026-03-21–2026-03-27 all day: 168 × 60 min",
            "2026-03-28 (Easter break) all day: 24 × 60 min",
            "2026-03-28 (Easter break) daily cap",
            "2026-03-29 (Easter break) all day: 23 × 60 min",
            "2026-03-29 (Easter break) daily cap",
            "2026-03-30–2026-04-01 all day: 72 × 60 min",
        ]
        assert fee.total == 300 + 1300 + 16800 + 900 + 900 + 7200

    def test_a_year_is_a_short_receipt(self) -> None:
        tariff = compiled(hourly(max_stay_days=3660), timezone="Europe/Berlin")
        entry = at("2026-01-01 10:00", BERLIN)
        fee = quote(tariff, FeeQuery(entry=entry, exit=entry + timedelta(days=3650)))
        # Ten years of days alike except the daylight-saving days (23 h and 25 h).
        assert len(fee.items) < 3 * 2 * 10 + 2
        assert fee.total == 3650 * 24 * 100


class TestReceiptLinesFitTheRecord:
    """Every receipt line fits a transaction record (labels of at most 80 characters)."""

    def test_longest_names_on_a_ten_year_stay(self) -> None:
        longest_band, longest_holiday = "b" * 16, "h" * 20
        rates = cls(
            unit_minutes=1,
            bands=[band(longest_band, "00:00", "24:00", unit_price=1)],
            holiday={
                "unit_minutes": 1,
                "bands": [band(longest_band, "00:00", "24:00", unit_price=2)],
            },
            max_per_stay=10_000_000,
        )
        tariff = compiled(
            parking({1: rates}, daily_cap_mode="calendar_day", max_stay_days=3660),
            holidays=[{"name": longest_holiday, "first": "2026-10-01", "last": "2027-10-02"}],
        )
        fee = price(tariff, "2026-01-01 00:00", "2035-12-30 23:59")
        assert max(len(label) for label in labels(fee.items)) <= 80
        record, _ = TransactionRecord.seal(
            Transaction.build(
                lane_id="riverside-exit",
                kind="exit",
                status="authorised",
                authorisation="paid",
                recorded_at=datetime(2035, 12, 30, tzinfo=UTC),
                tariff_id=fee.tariff_id,
                tariff_version=fee.version,
                currency=fee.currency,
                fee_items=[{"label": i.label, "amount": i.amount} for i in fee.items],
                fee_total=fee.total,
            ),
            1,
            GENESIS_HASH,
        )
        assert record.computed_hash() == record.hash

    @pytest.mark.parametrize(
        ("where", "data"),
        [
            (
                "name",
                tariff_data(
                    parking({1: cls(bands=[band("b" * 17, "00:00", "24:00", unit_price=1)])})
                ),
            ),
            (
                "holidays.0.name",
                tariff_data(
                    hourly(),
                    holidays=[{"name": "h" * 21, "first": "2026-10-01", "last": "2026-10-01"}],
                ),
            ),
        ],
        ids=["band", "holiday"],
    )
    def test_longer_names_are_refused(self, where: str, data: dict[str, Any]) -> None:
        with pytest.raises(ValidationError, match=f"(?s){where}.*at most"):
            Tariff.model_validate(data)
