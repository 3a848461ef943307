"""The demo's parts: derived lane files, the demo tariff, plates, a lane process that fails, its screen and logs."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from contracts.tariff import Tariff
from fleet.lane_files import CONFIG, derive_lane, toml_text, toml_value
from fleet.lane_process import LaneProcess, LaneStartError
from fleet.plates import demo_plates
from fleet.screen import CLEAR_LINE, Screen
from fleet.site import DemoLogs, no_free_minutes
from plumbing.config import ConfigError, load

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

    def test_echo_gets_the_log_and_the_file_keeps_it(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.toml"
        path.write_text('kind = "lane"\nid = "x"\n')
        echo = io.StringIO()
        lane = LaneProcess(path, tmp_path / "lane.log", echo=echo)
        with pytest.raises(LaneStartError, match="exited with status 78") as caught:
            lane.start(timeout_s=60)
        assert "invalid configuration" in str(caught.value)  # the tail, from the file
        assert "invalid configuration" in echo.getvalue()
        assert echo.getvalue() == (tmp_path / "lane.log").read_text()
        assert lane.stop() == 78


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestScreen:
    """Lines are printed whole; progress is redrawn in place on a terminal, and thinned elsewhere."""

    def test_progress_off_a_terminal_every_few_seconds(self) -> None:
        out, clock = io.StringIO(), FakeClock()
        screen = Screen(out, live=False, every_s=10, clock=clock)
        screen.say("starting the lane daemons ...")
        for step in range(25):  # 24 s of progress, a call a second
            clock.now = 100.0 + step
            screen.progress(f"starting ({step} s)")
        screen.done()
        screen.say("lanes ready")
        assert out.getvalue().splitlines() == [
            "starting the lane daemons ...",
            "  ... starting (10 s)",
            "  ... starting (20 s)",
            "lanes ready",
        ]

    def test_progress_on_a_terminal_is_one_line_cleared_before_the_next(self) -> None:
        out = io.StringIO()
        screen = Screen(out, live=True)
        screen.progress("starting (1 s)")
        screen.progress("starting (2 s)")
        screen.say("  riverside-exit ready after 2.1 s")
        screen.progress("starting (3 s)")
        screen.done()
        screen.say("lanes ready")
        assert out.getvalue() == (
            f"{CLEAR_LINE}/ starting (1 s){CLEAR_LINE}- starting (2 s){CLEAR_LINE}"
            f"  riverside-exit ready after 2.1 s\n{CLEAR_LINE}\\ starting (3 s){CLEAR_LINE}"
            "lanes ready\n"
        )


class TestDemoLogs:
    """The demo names its log files at the start and, whole paths, at the end."""

    def test_files_named(self, tmp_path: Path) -> None:
        logs = DemoLogs(tmp_path, verbose=False)
        assert "demo.log (simulators, gateway)" in logs.at_start()
        assert "riverside-entry.log and riverside-exit.log (lane daemons)" in logs.at_start()
        end = logs.at_end()
        assert end.startswith(
            f"logs: {tmp_path / 'demo.log'}, {tmp_path / 'riverside-entry.log'}, "
            f"{tmp_path / 'riverside-exit.log'}; "
        )
        assert f"the work folder {tmp_path} stays" in end

    def test_verbose_has_no_demo_log(self, tmp_path: Path) -> None:
        logs = DemoLogs(tmp_path, verbose=True)
        assert logs.at_start().startswith("logs: here on stderr (--verbose)")
        assert "demo.log" not in logs.at_end()
