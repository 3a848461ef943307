"""The demo's parts: derived lane files, the demo tariff, plates, and a lane process that fails."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.config.loading import ConfigError, load
from edge.demo.lane_files import CONFIG, derive_lane, toml_text, toml_value
from edge.demo.lane_process import LaneProcess, LaneStartError
from edge.demo.plates import demo_plates
from edge.demo.site import no_free_minutes
from edge.fees.tariff import Tariff

DEVICES = {
    "io": {"type": "modbus_tcp", "host": "127.0.0.1", "port": 1502},
    "barrier": {"type": "io"},
    "loops": {"type": "io"},
    "camera": {"type": "opencv", "source": "http://127.0.0.1:1/stream.mjpg"},
}


class TestTomlText:
    """Nested tables come back from tomllib as they went in."""

    def test_round_trip(self) -> None:
        data = {
            "id": "lane-1",
            "ratio": 0.5,
            "on": True,
            "names": ["a", "皖A12345"],
            "quote": 'say "hi"\\n',
            "payments": {"policy": {"methods": ["qr"]}, "gateway": {"callback": {"port": 8}}},
        }
        assert tomllib.loads(toml_text(data)) == data

    def test_unknown_type_is_named(self) -> None:
        with pytest.raises(TypeError, match="no TOML form for NoneType"):
            toml_value(None)


class TestDeriveLane:
    """The shipped lane with simulated devices, validated as any lane file."""

    def test_shipped_policy_kept_devices_replaced(self, tmp_path: Path) -> None:
        files = derive_lane(
            "riverside-exit",
            tmp_path,
            store=tmp_path / "site.db",
            devices=DEVICES,
            changes={"policy": {"payment_timeout_s": 30}},
        )
        lane = files.lane
        assert lane.id == "riverside-exit"
        assert lane.policy.unreadable_plate.value == "deny_and_call"  # as shipped
        assert lane.policy.payment_timeout_s == 30
        assert lane.barrier.type == "io"
        assert lane.display is None  # the shipped serial display was replaced by nothing
        assert lane.store == str(tmp_path / "site.db")

    def test_none_removes_a_shipped_key(self, tmp_path: Path) -> None:
        files = derive_lane(
            "riverside-exit",
            tmp_path,
            store=tmp_path / "site.db",
            devices=DEVICES,
            changes={"payments": {"policy": {"methods": ["prepaid"]}, "gateway": None}},
        )
        payments = files.lane.payment_settings()
        assert payments.gateway is None
        assert [m.value for m in payments.policy.methods] == ["prepaid"]

    def test_bad_device_section_names_the_field(self, tmp_path: Path) -> None:
        devices = {**DEVICES, "camera": {"type": "opencv"}}
        with pytest.raises(ConfigError, match=r"camera\.opencv\.source: Field required"):
            derive_lane("riverside-entry", tmp_path, store=tmp_path / "s.db", devices=devices)


class TestDemoTariff:
    """The demo tariff charges from the first minute and is otherwise the shipped one."""

    def test_no_free_minutes(self, tmp_path: Path) -> None:
        text = (CONFIG / "tariffs" / "riverside-parking.toml").read_text(encoding="utf-8")
        path = tmp_path / "t.toml"
        path.write_text(no_free_minutes(text), encoding="utf-8")
        tariff = load(path, Tariff)
        assert [v.parking.free_minutes for v in tariff.versions if v.parking] == [0, 0]
        assert "free_minutes = 120" in path.read_text(encoding="utf-8")  # the coupon stays

    def test_tariff_without_the_line_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no `free_minutes = 15` line"):
            no_free_minutes('kind = "tariff"\n')


class TestDemoPlates:
    """Plates are dealt out to every kind of vehicle, without repeats."""

    def test_distinct_plates_for_each_kind(self) -> None:
        plates = demo_plates({"qr": 5, "prepaid": 2, "whitelist": 1}, seed=4)
        assert [len(p) for p in plates.values()] == [5, 2, 1]
        every = [p for kind in plates.values() for p in kind]
        assert len(set(every)) == len(every)
        assert all(p.startswith("皖") for p in every)

    def test_same_seed_same_plates(self) -> None:
        counts = {"qr": 3, "prepaid": 2}
        assert demo_plates(counts, seed=7) == demo_plates(counts, seed=7)
        assert demo_plates(counts, seed=7) != demo_plates(counts, seed=8)


class TestLaneProcess:
    """A lane that cannot start fails with its exit status and its own message."""

    def test_invalid_lane_file(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.toml"
        path.write_text('kind = "lane"\nid = "x"\n')
        lane = LaneProcess(path, tmp_path / "lane.log")
        with pytest.raises(LaneStartError, match="exited with status 78") as caught:
            lane.start(timeout_s=60)
        assert "invalid configuration" in str(caught.value)
        assert lane.stop() == 78
