"""Central's day report on SQLite and PostgreSQL: figures by hand, plaza time, CSV, the command."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from central_db import BACKENDS, central_db_url

from central.commands import report as command
from central.reports.groups import BY
from central.reports.revenue import ReportRow, day_report, days_report, table, write_csv
from central.storage import CentralStore
from contracts.testing import NOW, batch, paid_exit, refund, seal, version, voided
from plumbing.cli import Groups

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 3)


def zone(plaza: str) -> ZoneInfo:
    return SHANGHAI if plaza == "east" else ZoneInfo("UTC")


def utc(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with central_db_url(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def store(url: str) -> Iterator[CentralStore]:
    """Plaza west (UTC): lanes w1, w2. Plaza east (Shanghai, UTC+8): lane e1."""
    with CentralStore.open(url) as opened:
        paid = paid_exit("w1", utc(9, 10), fee=500)
        account = version(
            paid_exit("w1", utc(10, 5), fee=300), payment_method="account", vehicle_class=2
        )
        pending = version(
            paid_exit("w1", utc(10, 30), fee=700), status="authorised", payment_status="requested"
        )
        w1 = [
            version(
                paid,
                status="arrived",
                payment_status="none",
                fee_items=[],
                fee_total=None,
                currency=None,
                authorisation=None,
                exit_time=None,
            ),
            paid,  # 500, class 1, terminal, 09h
            account,  # 300, class 2, account, 10h
            pending,  # not settled: nothing
            refund(paid, 200, utc(11, 0)),  # -200, no count, class 1, terminal, 11h
            voided("w1", utc(11, 30)),  # counted, 0, class 2, no method, 11h
            paid_exit("w1", utc(0, 30, day=4), fee=900),  # the next day: not in DAY
        ]
        opened.store_batch("west", batch("west", seal(w1)), NOW)
        w2 = [paid_exit("w2", utc(9, 50), fee=250), paid_exit("w2", utc(23, 59, day=2), fee=1)]
        opened.store_batch("west", batch("west", seal(w2)), NOW)
        # Shanghai's 2026-12-03 is 12-02 16:00 .. 12-03 16:00 UTC.
        e1 = [
            paid_exit("e1", utc(16, 30, day=2), fee=1000),  # 00:30 local on DAY
            paid_exit("e1", utc(15, 59), fee=2000),  # 23:59 local on DAY
            paid_exit("e1", utc(16, 0), fee=4000),  # 00:00 local on the 4th: not DAY
        ]
        opened.store_batch("east", batch("east", seal(e1)), NOW)
        yield opened


def figures(rows: list[ReportRow]) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r.plaza_id, r.group): (r.transactions, r.revenue) for r in rows}


class TestFigures:
    """Each grouping's figures, worked out by hand from the records above."""

    def test_by_lane(self, store: CentralStore) -> None:
        rows = day_report(store.engine, DAY, "lane", zone)
        assert figures(rows) == {
            ("east", "e1"): (2, 3000),
            ("west", "w1"): (3, 600),  # paid 500 + account 300 - refund 200; voided counted
            ("west", "w2"): (1, 250),
        }
        assert {r.currency for r in rows} == {"USD"}

    def test_by_plaza(self, store: CentralStore) -> None:
        assert figures(day_report(store.engine, DAY, "plaza", zone)) == {
            ("east", "east"): (2, 3000),
            ("west", "west"): (4, 850),
        }

    def test_by_class(self, store: CentralStore) -> None:
        assert figures(day_report(store.engine, DAY, "class", zone)) == {
            ("east", "1"): (2, 3000),
            ("west", "1"): (2, 550),  # w1 paid 500 - refund 200, w2 250
            ("west", "2"): (2, 300),  # account 300, voided 0
        }

    def test_by_method(self, store: CentralStore) -> None:
        assert figures(day_report(store.engine, DAY, "method", zone)) == {
            ("east", "terminal"): (2, 3000),
            ("west", "terminal"): (2, 550),
            ("west", "account"): (1, 300),
            ("west", "-"): (1, 0),
        }

    def test_by_hour_in_plaza_time(self, store: CentralStore) -> None:
        assert figures(day_report(store.engine, DAY, "hour", zone)) == {
            ("east", "00:00"): (1, 1000),
            ("east", "23:00"): (1, 2000),
            ("west", "09:00"): (2, 750),
            ("west", "10:00"): (1, 300),
            ("west", "11:00"): (1, -200),
        }

    def test_days_by_day(self, store: CentralStore) -> None:
        rows = days_report(store.engine, date(2026, 12, 2), date(2026, 12, 4), "day", zone)
        assert [(r.day, r.plaza_id, r.group, r.transactions, r.revenue) for r in rows] == [
            (date(2026, 12, 2), "west", "2026-12-02", 1, 1),
            (DAY, "east", "2026-12-03", 2, 3000),
            (DAY, "west", "2026-12-03", 4, 850),
            (date(2026, 12, 4), "east", "2026-12-04", 1, 4000),
            (date(2026, 12, 4), "west", "2026-12-04", 1, 900),
        ]

    def test_a_day_with_nothing(self, store: CentralStore) -> None:
        assert day_report(store.engine, date(2026, 11, 1), "lane", zone) == []

    def test_unknown_grouping_refused(self, store: CentralStore) -> None:
        with pytest.raises(ValueError, match="by: 'week' is not one of plaza, lane"):
            day_report(store.engine, DAY, "week", zone)  # type: ignore[arg-type]


class TestCsv:
    """The CSV holds one line per row under a header, amounts in minor units and shown."""

    def test_rows(self, store: CentralStore, tmp_path: Path) -> None:
        out = tmp_path / "day.csv"
        with out.open("w", newline="") as handle:
            write_csv(day_report(store.engine, DAY, "lane", zone), handle)
        with out.open(newline="") as handle:
            lines = list(csv.reader(handle))
        assert lines[0] == [
            "day",
            "plaza",
            "group",
            "transactions",
            "revenue_minor",
            "currency",
            "revenue",
        ]
        assert lines[1:] == [
            ["2026-12-03", "east", "e1", "2", "3000", "USD", "30.00 USD"],
            ["2026-12-03", "west", "w1", "3", "600", "USD", "6.00 USD"],
            ["2026-12-03", "west", "w2", "1", "250", "USD", "2.50 USD"],
        ]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lanewarden")
    command.register(Groups(parser.add_subparsers(dest="command", required=True)))
    return parser.parse_args(["central", "report", *argv])


def config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "central.toml"
    path.write_text(
        f'kind = "central"\n[storage]\nurl = "{url}"\n[plazas.east]\ntimezone = "Asia/Shanghai"\n'
    )
    return path


class TestCommand:
    """``lanewarden central report``: the table, --csv, and a bad --day refused."""

    def test_table_and_csv(
        self, store: CentralStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "r.csv"
        args = parse(
            [
                "--day",
                "2026-12-03",
                "--by",
                "plaza",
                "--csv",
                str(out),
                "--config",
                str(config_file(tmp_path, url)),
            ]
        )
        assert args.func(args) == 0
        printed = capsys.readouterr().out.splitlines()
        assert printed[0].split() == [
            "day",
            "plaza",
            "plaza",
            "transactions",
            "revenue_minor",
            "currency",
            "revenue",
        ]
        assert printed[1].split() == [
            "2026-12-03",
            "east",
            "east",
            "2",
            "3000",
            "USD",
            "30.00",
            "USD",
        ]
        assert printed[-1].split() == ["2026-12-03", "total", "6", "3850", "USD", "38.50", "USD"]
        assert out.read_text().splitlines()[2] == "2026-12-03,west,west,4,850,USD,8.50 USD"

    def test_an_empty_day(
        self, store: CentralStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        args = parse(["--day", "2026-01-01", "--config", str(config_file(tmp_path, url))])
        assert args.func(args) == 0
        assert capsys.readouterr().out == "no transactions on 2026-01-01\n"

    @pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-12-3", "20261203"])
    def test_bad_day_refused(self, day: str, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exited:
            parse(["--day", day])
        assert exited.value.code == 2
        assert f"--day: {day!r} is not a day written YYYY-MM-DD" in capsys.readouterr().err

    def test_bad_config_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "central.toml"
        path.write_text('kind = "central"\n[plazas.east]\ntimezone = "Mars/Olympus"\n')
        args = parse(["--day", "2026-12-03", "--config", str(path)])
        assert args.func(args) == command.EXIT_CONFIG
        assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err

    def test_impossible_history_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "central.toml"
        path.write_text('kind = "central"\n[alarms.revenue]\nweeks = 2\nmin_weeks = 3\n')
        args = parse(["--day", "2026-12-03", "--config", str(path)])
        assert args.func(args) == command.EXIT_CONFIG
        assert "min_weeks: 3 is more than the 2 weeks compared" in capsys.readouterr().err

    def test_no_database_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "central.toml"
        path.write_text(f'kind = "central"\n[storage]\nstate_dir = "{tmp_path / "none"}"\n')
        args = parse(["--day", "2026-12-03", "--config", str(path)])
        assert args.func(args) == command.EXIT_FAILED
        assert "no database at" in capsys.readouterr().err
        assert not (tmp_path / "none").exists()

    def test_a_range(
        self, store: CentralStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        args = parse(
            [
                "--day",
                "2026-12-02",
                "--to",
                "2026-12-04",
                "--by",
                "day",
                "--config",
                str(config_file(tmp_path, url)),
            ]
        )
        assert args.func(args) == 0
        last = capsys.readouterr().out.splitlines()[-1].split()
        assert last == ["2026-12-02..2026-12-04", "total", "9", "8751", "USD", "87.51", "USD"]

    @pytest.mark.parametrize(
        ("to", "message"),
        [
            ("2026-12-01", "--to: 2026-12-01 is before --day 2026-12-03"),
            ("2028-01-01", "--to: 395 days, more than 366"),
        ],
    )
    def test_bad_range_refused(
        self, to: str, message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        args = parse(["--day", "2026-12-03", "--to", to])
        assert args.func(args) == 2
        assert message in capsys.readouterr().err

    def test_choices_are_the_reports(self) -> None:
        assert parse(["--day", "2026-12-03", "--by", "hour"]).by == "hour"
        assert BY == ("plaza", "lane", "class", "method", "hour", "day")

    def test_unpaid_rows_count_in_the_currency_total(self, store: CentralStore) -> None:
        rows = day_report(store.engine, DAY, "method", zone)
        last = table(rows, "method", "2026-12-03").splitlines()[-1].split()
        assert last == ["2026-12-03", "total", "6", "3850", "USD", "38.50", "USD"]
