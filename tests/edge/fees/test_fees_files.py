"""Tariff and network files: the shipped examples load, bad files name the key that is wrong."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from paths import REPO

from contracts.network import Network
from contracts.tariff import Tariff
from edge.config.loading import load_any
from edge.fees.files import load_tariff
from plumbing.cli import main
from plumbing.config import ConfigError

TARIFFS = sorted((REPO / "config" / "tariffs").glob("*.toml"))

PARKING = """\
kind = "tariff"
id = "t"
name = "T"
currency = "CNY"
timezone = "Asia/Shanghai"

[[versions]]
version = 1
effective_from = 2026-01-01T00:00:00

[versions.parking]
free_minutes = 15

[versions.parking.classes.1]
unit_minutes = 30
lost_ticket_fee = 5000

[[versions.parking.classes.1.bands]]
name = "day"
start = "08:00"
end = "20:00"
unit_price = 200

[[versions.parking.classes.1.bands]]
name = "night"
start = "20:00"
end = "08:00"
unit_price = 100
"""

NETWORK = """\
kind = "network"
id = "n"
name = "N"
plazas = [{ id = "a", name = "A" }, { id = "b", name = "B" }, { id = "c", name = "C" }]
distances = [
    { plazas = ["a", "b"], km = 10 },
    { plazas = ["a", "c"], km = 25.5 },
    { plazas = ["b", "c"], km = 15.5 },
]
"""

HIGHWAY = """\
kind = "tariff"
id = "h"
name = "H"
currency = "CNY"
timezone = "Asia/Shanghai"

[[versions]]
version = 1
effective_from = 2026-01-01T00:00:00

[versions.highway]
network = "net.toml"
classes = { 1 = { rate_per_km = 45 } }
"""


def edited(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in the template exactly once"
    return text.replace(old, new)


def problems(tmp_path: Path, text: str, name: str = "bad.toml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_any(path)
    return [line.removeprefix(f"{path}: ") for line in caught.value.problems]


class TestShippedTariffs:
    """The example tariffs and the network load, compile and quote."""

    def test_templates_are_valid(self, tmp_path: Path) -> None:
        (tmp_path / "t.toml").write_text(PARKING)
        (tmp_path / "net.toml").write_text(NETWORK)
        (tmp_path / "h.toml").write_text(HIGHWAY)
        assert isinstance(load_any(tmp_path / "t.toml"), Tariff)
        assert isinstance(load_any(tmp_path / "net.toml"), Network)
        assert load_tariff(tmp_path / "h.toml").versions[0].version == 1

    @pytest.mark.parametrize("path", TARIFFS, ids=lambda p: p.name)
    def test_loads(self, path: Path) -> None:
        tariff = load_tariff(path)
        assert tariff.currency == "CNY"
        assert tariff.clock.tz.key == "Asia/Shanghai"

    def test_there_is_one_of_each_scheme(self) -> None:
        schemes = {load_tariff(p).source.versions[0].scheme for p in TARIFFS}
        assert schemes == {"parking", "highway", "flat"}

    def test_parking_example_has_two_versions(self) -> None:
        tariff = load_tariff(REPO / "config" / "tariffs" / "riverside-parking.toml")
        assert [v.version for v in tariff.versions] == [1, 2]


class TestBadTariffs:
    """Each mistake is reported with the key path and what was expected."""

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            (
                'start = "20:00"',
                'start = "19:00"',
                "versions[0].parking.classes.1.bands: Value error, bands 'day' and 'night' "
                "overlap at 19:00",
            ),
            (
                'start = "20:00"',
                'start = "21:00"',
                "versions[0].parking.classes.1.bands: Value error, bands must cover the whole "
                "day; 20:00–21:00 is in no band",
            ),
            (
                "unit_price = 200",
                "unit_price = -200",
                "versions[0].parking.classes.1.bands[0].unit_price: Input should be greater "
                "than or equal to 0",
            ),
            (
                "unit_price = 200",
                "tiers = [{ after_minutes = 0, unit_price = 200 }, "
                "{ after_minutes = 240, unit_price = 100 }, { after_minutes = 120, unit_price = 50 }]",
                "versions[0].parking.classes.1.bands[0].tiers: Value error, tiers must be "
                "sorted by after_minutes, strictly increasing: tiers[2] (120) does not come "
                "after tiers[1] (240)",
            ),
            (
                "unit_price = 200",
                "tiers = [{ after_minutes = 30, unit_price = 200 }]",
                "versions[0].parking.classes.1.bands[0].tiers: Value error, the first tier "
                "must start at after_minutes = 0",
            ),
            (
                "unit_price = 200",
                "unit_price = 200\ntiers = [{ after_minutes = 0, unit_price = 200 }]",
                "versions[0].parking.classes.1.bands[0]: Value error, band 'day': give "
                "exactly one of unit_price or tiers",
            ),
            (
                'end = "20:00"',
                'end = "25:00"',
                "versions[0].parking.classes.1.bands[0].end: Value error, expected a time of "
                "day HH:MM (00:00 to 24:00), got '25:00'",
            ),
            (
                "free_minutes = 15",
                "free_minute = 15",
                "versions[0].parking.free_minute: unknown key (not allowed here; check the "
                "spelling)",
            ),
            (
                "lost_ticket_fee = 5000\n",
                "",
                "versions[0].parking.classes.1.lost_ticket_fee: Field required",
            ),
            (
                "unit_minutes = 30",
                "unit_minutes = 30\nfirst_period_price = 500",
                "versions[0].parking.classes.1: Value error, first_period_price is set but "
                "first_period_minutes is 0",
            ),
            (
                'timezone = "Asia/Shanghai"',
                'timezone = "Asia/Atlantis"',
                "timezone: Value error, unknown time zone 'Asia/Atlantis' (expected an IANA "
                "name such as Asia/Shanghai)",
            ),
            (
                "[versions.parking]\nfree_minutes = 15",
                "[versions.flat]\nclasses = { 1 = 1000 }\n[versions.parking]\nfree_minutes = 15",
                "versions[0]: Value error, version 1: give exactly one of parking, highway, "
                "flat (got parking, flat)",
            ),
            (
                "[versions.parking.classes.1]",
                "[versions.parking.classes.0]",
                "versions[0].parking.classes.0.[key]: Input should be greater than or equal to 1",
            ),
        ],
        ids=[
            "overlapping bands",
            "gap between bands",
            "negative price",
            "unsorted tiers",
            "first tier not at 0",
            "price and tiers",
            "bad time of day",
            "misspelt key",
            "missing key",
            "first period price without minutes",
            "unknown time zone",
            "two schemes",
            "class 0",
        ],
    )
    def test_parking_file(self, tmp_path: Path, old: str, new: str, expected: str) -> None:
        assert expected in problems(tmp_path, edited(PARKING, old, new))

    def test_versions_out_of_order(self, tmp_path: Path) -> None:
        second = "\n[[versions]]\nversion = 2\neffective_from = 2025-06-01T00:00:00+08:00\n"
        second += "[versions.flat]\nclasses = { 1 = 1 }\n"
        found = problems(tmp_path, PARKING + second)
        assert found == [
            "(top level): Value error, versions: all versions must use one scheme, "
            "got ['flat', 'parking']"
        ]
        second = second.replace("[versions.flat]\nclasses = { 1 = 1 }\n", "")
        found = problems(
            tmp_path, PARKING + second + PARKING[PARKING.index("[versions.parking]") :]
        )
        assert found == [
            "(top level): Value error, versions[1]: versions must be listed with increasing "
            "version and effective_from (version 2 from 2025-06-01 00:00:00+08:00 follows "
            "version 1 from 2026-01-01 00:00:00)"
        ]

    @pytest.mark.parametrize(
        "effective_from",
        ["0001-01-01T00:00:00", "9999-12-31T23:59:00-05:00", "2200-01-01T08:00:00"],
    )
    def test_version_outside_the_priced_years(self, tmp_path: Path, effective_from: str) -> None:
        text = edited(PARKING, "2026-01-01T00:00:00", effective_from)
        shown = str(datetime.fromisoformat(effective_from))
        assert problems(tmp_path, text) == [
            f"(top level): Value error, versions[0].effective_from: {shown} is outside the "
            "times the fee engine prices (the years 1970 to 2199, UTC)"
        ]

    @pytest.mark.parametrize(
        ("extra", "expected"),
        [
            (
                '[[coupons]]\ncode = "A"\nname = "a"\npercent = 10\n'
                '[[coupons]]\ncode = "A"\nname = "b"\namount = 100\n',
                "coupons: Value error, coupon codes must be unique; repeated: A",
            ),
            (
                '[[coupons]]\ncode = "A"\nname = "a"\npercent = 10\namount = 100\n',
                "coupons[0]: Value error, coupon 'A': give exactly one of percent, amount or "
                "free_minutes",
            ),
            (
                '[[coupons]]\ncode = "A"\nname = "a"\npercent = 120\n',
                "coupons[0].percent: Input should be less than or equal to 100",
            ),
            (
                '[[holidays]]\nname = "X"\nfirst = 2026-10-07\nlast = 2026-10-01\n',
                "holidays[0]: Value error, holiday 'X': last (2026-10-01) is before first "
                "(2026-10-07)",
            ),
        ],
        ids=[
            "repeated coupon",
            "coupon with two benefits",
            "coupon over 100 %",
            "holiday backwards",
        ],
    )
    def test_calendar_and_coupons(self, tmp_path: Path, extra: str, expected: str) -> None:
        text = edited(PARKING, "[[versions]]", extra + "\n[[versions]]")
        assert expected in problems(tmp_path, text)

    def test_payment_discount_over_100(self, tmp_path: Path) -> None:
        text = edited(
            PARKING,
            "[versions.parking]\n",
            "payment_discounts = { etc = 101 }\n[versions.parking]\n",
        )
        assert problems(tmp_path, text) == [
            "versions[0].payment_discounts.etc: Input should be less than or equal to 100"
        ]

    def test_config_check_names_file_and_key(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "t.toml"
        path.write_text(edited(PARKING, "unit_price = 100", "unit_price = -1"))
        assert main(["config", "check", str(path)]) == 1
        err = capsys.readouterr().err
        assert (
            f"{path}: versions[0].parking.classes.1.bands[1].unit_price: Input should be "
            "greater than or equal to 0"
        ) in err


class TestBadNetworks:
    """Network files: every pair once, known plazas only."""

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            (
                '    { plazas = ["b", "c"], km = 15.5 },\n',
                "",
                "(top level): Value error, distances: missing pairs: b – c",
            ),
            (
                '["b", "c"], km = 15.5',
                '["b", "d"], km = 15.5',
                "(top level): Value error, distances[2].plazas: unknown plaza 'd' (plazas: a, b, c)",
            ),
            (
                '["b", "c"], km = 15.5',
                '["b", "a"], km = 15.5',
                "(top level): Value error, distances[2].plazas: b – a is listed twice",
            ),
            (
                '["b", "c"], km = 15.5',
                '["b", "b"], km = 15.5',
                "(top level): Value error, distances[2].plazas: a plaza's distance to itself is 0; list pairs only",
            ),
            ("km = 25.5", "km = -25.5", "distances[1].km: Input should be greater than 0"),
        ],
        ids=["missing pair", "unknown plaza", "pair twice", "self pair", "negative distance"],
    )
    def test_network_file(self, tmp_path: Path, old: str, new: str, expected: str) -> None:
        assert expected in problems(tmp_path, edited(NETWORK, old, new))

    def test_tariff_names_a_missing_network(self, tmp_path: Path) -> None:
        path = tmp_path / "h.toml"
        path.write_text(HIGHWAY)
        with pytest.raises(ConfigError) as caught:
            load_tariff(path)
        assert caught.value.problems == [
            f"{path}: versions[0].highway.network: network file {tmp_path / 'net.toml'} not found"
        ]

    def test_config_check_loads_the_network(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "h.toml"
        path.write_text(HIGHWAY)
        assert main(["config", "check", str(path)]) == 1
        assert (
            f"{path}: (top level): Value error, versions[0].highway.network: network file "
            f"{tmp_path / 'net.toml'} not found"
        ) in capsys.readouterr().err
        (tmp_path / "net.toml").write_text(NETWORK)
        assert main(["config", "check", str(path)]) == 0

    def test_tariff_reports_a_bad_network(self, tmp_path: Path) -> None:
        (tmp_path / "net.toml").write_text(edited(NETWORK, "km = 10", "kms = 10"))
        (tmp_path / "h.toml").write_text(HIGHWAY)
        with pytest.raises(ConfigError) as caught:
            load_tariff(tmp_path / "h.toml")
        expected = f"{tmp_path / 'net.toml'}: distances[0].kms: unknown key"
        assert any(line.startswith(expected) for line in caught.value.problems)
