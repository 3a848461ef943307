"""``lanewarden fees quote`` and ``lanewarden bench fees`` end to end, through plumbing.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paths import REPO

from plumbing.cli import main

TARIFFS = REPO / "config" / "tariffs"
PARKING = str(TARIFFS / "riverside-parking.toml")
HIGHWAY = str(TARIFFS / "g60-highway.toml")
FLAT = str(TARIFFS / "bridge-flat.toml")
STAY = ["--entry", "2026-11-20T08:00", "--exit", "2026-11-21T09:30"]


def quote_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["fees", "quote", *args, "--json"]) == 0, capsys.readouterr().err
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


class TestQuoteParking:
    """The shipped parking tariff, version 2 (from 2026-07-01), class 1."""

    def test_readable(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["fees", "quote", "--tariff", PARKING, *STAY]) == 0
        lines = [line.split() for line in capsys.readouterr().out.splitlines()]
        assert lines[0] == ["riverside-parking", "version", "2,", "class", "1"]
        assert lines[1] == ["first", "60", "min", "6.00", "CNY"]
        assert lines[-1] == ["total", "52.00", "CNY"]

    def test_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        # 08:00-09:00 first hour 600. 09:00-20:00 day: 22 units of 30 min, those
        # starting before 240 min into the charging day (60, 90, ..., 210: 6 units)
        # at 200 = 1200, the other 16 at 100 = 1600. 20:00-08:00 night: 12 hour
        # units at 100 = 1200. Day 1 = 4600 (cap 5000). Day 2, 08:00-09:30: 3 units
        # at 200 = 600. Total 5200.
        assert quote_json(capsys, "--tariff", PARKING, *STAY) == {
            "items": [
                {"label": "first 60 min", "amount": 600},
                {"label": "day 1 day: 22 × 30 min", "amount": 2800},
                {"label": "day 1 night: 12 × 60 min", "amount": 1200},
                {"label": "day 2 day: 3 × 30 min", "amount": 600},
            ],
            "total": 5200,
            "currency": "CNY",
            "tariff_id": "riverside-parking",
            "tariff_version": 2,
        }

    def test_times_with_an_offset(self, capsys: pytest.CaptureFixture[str]) -> None:
        # 00:00Z is 08:00 in Shanghai: the same stay.
        utc = ["--entry", "2026-11-20T00:00Z", "--exit", "2026-11-21T01:30+00:00"]
        assert quote_json(capsys, "--tariff", PARKING, *utc)["total"] == 5200

    def test_coupon(self, capsys: pytest.CaptureFixture[str]) -> None:
        # 5200 - 20 % (1040) = 4160.
        assert (
            quote_json(capsys, "--tariff", PARKING, *STAY, "--coupon", "CINEMA20")["total"] == 4160
        )

    def test_lost_ticket(self, capsys: pytest.CaptureFixture[str]) -> None:
        fee = quote_json(
            capsys, "--tariff", PARKING, "--unknown-entry", "--exit", "2026-11-21T09:30"
        )
        assert fee["total"] == 10000

    def test_grace_after_payment(self, capsys: pytest.CaptureFixture[str]) -> None:
        # 08:00-10:00: first hour 600 + 2 units x 200 = 1000 paid at 10:00; out at 10:10.
        args = ["--tariff", PARKING, "--entry", "2026-11-20T08:00", "--exit", "2026-11-20T10:10"]
        paid = ["--paid-at", "2026-11-20T10:00", "--paid", "1000"]
        assert quote_json(capsys, *args, *paid)["total"] == 0


class TestQuoteOtherSchemes:
    """The shipped highway and open plaza tariffs."""

    def test_highway_with_etc(self, capsys: pytest.CaptureFixture[str]) -> None:
        # north -> south 52.7 km x 45 = 2371.5 -> 50 fen steps, half up: 2350;
        # ETC 5 % = 117.5 -> 118: 2232.
        fee = quote_json(
            capsys,
            *("--tariff", HIGHWAY, "--exit", "2026-11-21T09:30"),
            *("--entry-plaza", "north", "--exit-plaza", "south", "--payment-method", "etc"),
        )
        assert fee["total"] == 2232

    def test_highway_unknown_entry(self, capsys: pytest.CaptureFixture[str]) -> None:
        # Longest distance to south is from north (52.7 km): 2350.
        fee = quote_json(
            capsys,
            "--tariff",
            HIGHWAY,
            "--exit",
            "2026-11-21T09:30",
            "--unknown-entry",
            "--exit-plaza",
            "south",
        )
        assert fee["total"] == 2350

    def test_highway_holiday(self, capsys: pytest.CaptureFixture[str]) -> None:
        args = ["--tariff", HIGHWAY, "--exit", "2026-10-03T12:00", "--entry-plaza", "north"]
        assert quote_json(capsys, *args, "--exit-plaza", "south", "--seats", "5")["total"] == 0

    def test_flat(self, capsys: pytest.CaptureFixture[str]) -> None:
        fee = quote_json(capsys, "--tariff", FLAT, "--class", "2", "--exit", "2026-11-21T09:30")
        assert fee == {
            "items": [{"label": "class 2 flat fee", "amount": 1500}],
            "total": 1500,
            "currency": "CNY",
            "tariff_id": "bridge-flat",
            "tariff_version": 1,
        }


class TestQuoteErrors:
    """Bad input: exit status 2 for arguments, 1 for what cannot be priced, with the reason."""

    def test_bad_time(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            main(
                [
                    "fees",
                    "quote",
                    "--tariff",
                    PARKING,
                    "--entry",
                    "yesterday",
                    "--exit",
                    "2026-11-21T09:30",
                ]
            )
        assert exited.value.code == 2
        assert "argument --entry: not an ISO 8601 time: 'yesterday'" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["--tariff", PARKING, "--exit", "2026-11-21T09:30"],
                "--entry is required for a parking tariff",
            ),
            (
                ["--tariff", PARKING, *STAY, "--unknown-entry"],
                "--unknown-entry contradicts --entry / --entry-plaza",
            ),
            (
                ["--tariff", HIGHWAY, "--exit", "2026-11-21T09:30", "--exit-plaza", "south"],
                "--entry-plaza is required for a highway tariff",
            ),
            (["--tariff", PARKING, *STAY, "--paid", "-5"], "--paid must not be negative"),
        ],
        ids=["no entry", "unknown and known entry", "no entry plaza", "negative paid"],
    )
    def test_usage(self, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
        assert main(["fees", "quote", *args]) == 2
        assert message in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--class", "9"], "cannot price this passage: vehicle class 9 has no parking rates"),
            (["--coupon", "FREE"], "cannot price this passage: coupon 'FREE' is not accepted"),
        ],
    )
    def test_cannot_price(
        self, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        assert main(["fees", "quote", "--tariff", PARKING, *STAY, *args]) == 1
        assert message in capsys.readouterr().err

    def test_exit_before_entry(self, capsys: pytest.CaptureFixture[str]) -> None:
        args = ["--entry", "2026-11-21T09:30", "--exit", "2026-11-20T08:00"]
        assert main(["fees", "quote", "--tariff", PARKING, *args]) == 1
        assert "is after exit" in capsys.readouterr().err

    def test_missing_tariff_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        missing = tmp_path / "nope.toml"
        assert main(["fees", "quote", "--tariff", str(missing), *STAY]) == 1
        assert f"{missing}: file not found" in capsys.readouterr().err


BERLIN = """
kind = "tariff"
id = "berlin-test"
name = "Berlin test"
currency = "EUR"
timezone = "Europe/Berlin"

[[versions]]
version = 3
effective_from = 2026-01-01T00:00:00

[versions.parking]
max_stay_days = 30

[versions.parking.classes.1]
unit_minutes = 60
lost_ticket_fee = 5000
bands = [{ name = "all day", start = "00:00", end = "24:00", unit_price = 100 }]
"""


@pytest.fixture
def berlin(tmp_path: Path) -> str:
    """A parking tariff in Europe/Berlin: 1.00 EUR an hour, stays of up to 30 days."""
    path = tmp_path / "berlin.toml"
    path.write_text(BERLIN)
    return str(path)


def refused(capsys: pytest.CaptureFixture[str], *args: str, status: int = 2) -> str:
    """Run ``fees quote``, expect ``status``, return stderr (which shows no traceback)."""
    assert main(["fees", "quote", *args]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


class TestQuoteBadTimes:
    """Times an operator can mistype: a clear error naming the option and the value."""

    @pytest.mark.parametrize(
        ("entry", "exit_", "named"),
        [
            ("0001-01-01T00:00", "2026-11-21T09:30", "--entry 0001-01-01T00:00:00 (Asia/Shanghai)"),
            ("2026-11-21T09:30", "9999-12-31T23:30", "--exit 9999-12-31T23:30:00 (Asia/Shanghai)"),
            ("2026-11-21T09:30", "9999-12-31T23:30-05:00", "--exit 9999-12-31T23:30:00-05:00"),
            ("0001-01-01T00:00+08:00", "2026-11-21T09:30", "--entry 0001-01-01T00:00:00+08:00"),
            ("1969-12-31T23:59Z", "2026-11-21T09:30", "--entry 1969-12-31T23:59:00+00:00"),
            ("2026-11-21T09:30", "2200-01-01T08:00", "--exit 2200-01-01T08:00:00 (Asia/Shanghai)"),
        ],
        ids=["year 1", "year 9999", "year 9999 west", "year 1 east", "before 1970", "2200"],
    )
    def test_out_of_range(
        self, capsys: pytest.CaptureFixture[str], entry: str, exit_: str, named: str
    ) -> None:
        err = refused(capsys, "--tariff", PARKING, "--entry", entry, "--exit", exit_)
        assert f"{named} is outside the times the fee engine prices" in err
        assert "1970 to 2199" in err

    def test_paid_at_out_of_range(self, capsys: pytest.CaptureFixture[str]) -> None:
        err = refused(capsys, "--tariff", PARKING, *STAY, "--paid-at", "9999-12-31T00:00")
        assert "--paid-at 9999-12-31T00:00:00 (Asia/Shanghai) is outside" in err

    def test_spring_forward_gap_is_refused(
        self, capsys: pytest.CaptureFixture[str], berlin: str
    ) -> None:
        # 2026-03-29 in Berlin: 02:00 becomes 03:00; 02:30 never happens. Moving it
        # an hour would make a one-hour stay from 01:30 free.
        args = ["--tariff", berlin, "--entry", "2026-03-29T01:30", "--exit", "2026-03-29T02:30"]
        err = refused(capsys, *args)
        assert "--exit 2026-03-29T02:30:00 does not exist in Europe/Berlin" in err
        assert "from +01:00 to +02:00" in err
        # --fold chooses between two occurrences; it does not make a skipped time exist.
        assert "does not exist" in refused(capsys, *args, "--fold", "1")

    def test_fall_back_repeat_is_refused(
        self, capsys: pytest.CaptureFixture[str], berlin: str
    ) -> None:
        # 2026-10-25 in Berlin: 03:00 becomes 02:00; 02:30 happens twice.
        args = ["--tariff", berlin, "--entry", "2026-10-25T01:30", "--exit", "2026-10-25T02:30"]
        err = refused(capsys, *args)
        assert "--exit 2026-10-25T02:30:00 is ambiguous in Europe/Berlin" in err
        assert "2026-10-25T02:30:00+02:00" in err
        assert "say which occurrence (fold 0 the first, 1 the second)" in err

    @pytest.mark.parametrize(
        ("choice", "amount"),
        [
            (["--fold", "0"], 100),
            (["--fold", "1"], 200),
            (["--exit", "2026-10-25T02:30+02:00"], 100),
            (["--exit", "2026-10-25T02:30+01:00"], 200),
        ],
        ids=["fold 0", "fold 1", "first offset", "second offset"],
    )
    def test_fall_back_repeat_disambiguated(
        self, capsys: pytest.CaptureFixture[str], berlin: str, choice: list[str], amount: int
    ) -> None:
        # 01:30 (+02:00) to the first 02:30 is one hour, to the second two.
        args = ["--tariff", berlin, "--entry", "2026-10-25T01:30"]
        if choice[0] == "--fold":
            args += ["--exit", "2026-10-25T02:30"]
        fee = quote_json(capsys, *args, *choice)
        assert fee["total"] == amount
        assert (fee["tariff_id"], fee["tariff_version"]) == ("berlin-test", 3)

    def test_a_stay_longer_than_the_maximum(
        self, capsys: pytest.CaptureFixture[str], berlin: str
    ) -> None:
        args = ["--tariff", berlin, "--entry", "2026-01-01T10:00", "--exit", "2026-02-01T10:00"]
        err = refused(capsys, *args, status=1)
        assert (
            "cannot price this passage: the stay from 2026-01-01 10:00 to 2026-02-01 10:00 "
            "lasts 31 days, longer than the 30 days tariff berlin-test prices (max_stay_days)"
        ) in err

    def test_centuries_under_the_default_maximum(self, capsys: pytest.CaptureFixture[str]) -> None:
        args = ["--tariff", PARKING, "--entry", "1970-01-02T00:00", "--exit", "2199-12-31T00:00"]
        assert "longer than the 366 days" in refused(capsys, *args, status=1)


class TestQuoteLongStay:
    """A long stay's receipt folds days priced alike; the readable form shows it."""

    def test_a_year(self, capsys: pytest.CaptureFixture[str]) -> None:
        # Version 2, class 1, 365 rolling days from 09:30. An ordinary day: by day
        # 24 half hours (8 in its first 4 h at 200, 16 at 100) = 3200, by night 12
        # hours at 100 = 1200, under the 5000 cap; days 2-72 are alike. A holiday
        # day: 24 h at 400 = 9600, capped at 6000. The sum passes the 60000 maximum.
        args = ["--entry", "2026-07-21T09:30", "--exit", "2027-07-21T09:30"]
        fee = quote_json(capsys, "--tariff", PARKING, *args)
        items = fee["items"]
        assert isinstance(items, list)
        labels = [item["label"] for item in items]
        assert len(labels) < 30
        assert {"label": "days 2–72 day: 1704 × 30 min", "amount": 71 * 3200} in items
        assert {"label": "days 73–79 (National Day) daily cap", "amount": -7 * 3600} in items
        assert fee["total"] == 60000


class TestBenchFees:
    """The benchmark prints a table and writes its figures."""

    def test_table_and_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        out = tmp_path / "fees.json"
        assert main(["bench", "fees", "--quotes", "300", "--json", str(out)]) == 0
        assert "quotes_per_s" in capsys.readouterr().out
        figures = json.loads(out.read_text())
        assert figures["quotes"] == 300
        assert figures["quotes_per_s"] > 0
        # The shipped tariff's longest stay, 366 days, folds into a short receipt.
        assert figures["max_stay_days"] == 366
        assert 0 < figures["max_stay_items"] < 40
        assert figures["max_stay_json_bytes"] < 4000

    def test_needs_a_parking_tariff(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["bench", "fees", "--quotes", "10", "--tariff", FLAT]) == 2
        assert "is not a parking tariff" in capsys.readouterr().err

    def test_needs_quotes(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["bench", "fees", "--quotes", "0"]) == 2
        assert "--quotes must be at least 1" in capsys.readouterr().err
