"""The driver factory that diag and the daemon build a lane's drivers with."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from drivers import factory
from drivers.config import GpioIO, GpioPins
from drivers.digital_io import ModuleBarrier, ModuleLight, ModuleLoops
from drivers.factory import DriverParts, DriverUnavailableError, LaneDrivers, build_lane
from drivers.fakes import FakeBarrier, FakeCamera, FakeDisplay, FakeLaneLight, FakeLoops
from drivers.interfaces import EventSink
from edge.config.lane import LaneConfig, load_lane

ROOT = Path(__file__).resolve().parents[1]


def lane(name: str = "riverside-entry") -> LaneConfig:
    return load_lane(ROOT / "config" / "lanes" / f"{name}.toml").lane


class TestBuild:
    """Drivers are chosen by each section's type; the I/O module is shared."""

    def test_modbus_lane_shares_one_module(self) -> None:
        drivers = build_lane(lane())
        assert isinstance(drivers.loops, ModuleLoops)
        assert isinstance(drivers.barrier, ModuleBarrier)
        assert isinstance(drivers.light, ModuleLight)
        assert drivers.loops.module is drivers.barrier.module is drivers.light.module
        assert drivers.loops.module.transport.label == "modbus tcp 127.0.0.1:5020 unit 1"
        assert drivers.barrier.module.timing.travel_timeout_s == 6.0

    def test_rtu_lane_with_serial_barrier(self) -> None:
        drivers = build_lane(lane("riverside-exit"))
        assert isinstance(drivers.loops, ModuleLoops)
        assert drivers.loops.module.transport.label == "modbus rtu /dev/ttyUSB0 unit 1"
        assert type(drivers.barrier).__name__ == "SerialBarrierDriver"

    def test_unknown_type_names_the_known_ones(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delitem(factory.CAMERAS, "opencv")
        with pytest.raises(
            DriverUnavailableError,
            match=r"camera: no driver for type 'opencv' in this build \(known: none\)",
        ):
            build_lane(lane())

    def test_io_loops_without_io_module(self) -> None:
        parts = DriverParts(lane().model_copy(update={"io": None}))
        with pytest.raises(DriverUnavailableError, match="io: the lane has no I/O module"):
            factory.build_loops(parts)

    @pytest.mark.skipif(
        importlib.util.find_spec("RPi") is not None, reason="RPi.GPIO is installed here"
    )
    def test_gpio_lane_off_a_pi_says_what_to_install(self) -> None:
        pins = GpioPins(
            arming_loop=5,
            safety_loop=6,
            barrier_up=13,
            barrier_down=19,
            open_relay=17,
            close_relay=27,
            lane_light=22,
        )
        gpio_lane = lane().model_copy(update={"io": GpioIO(type="gpio", pins=pins)})
        with pytest.raises(DriverUnavailableError, match=r"pip install 'lanewarden\[rpi\]'"):
            build_lane(gpio_lane)


class BrokenDisplay(FakeDisplay):
    def start(self, sink: EventSink) -> None:
        raise OSError("no such port")


class TestLaneDrivers:
    """Started and stopped together; a failed start stops what had started."""

    def test_start_and_stop_all(self) -> None:
        drivers = LaneDrivers(FakeLoops(), FakeBarrier(), FakeLaneLight(), FakeCamera(), None)
        drivers.start(lambda _event: None)
        assert all(getattr(d, "started", False) for d in drivers.devices())
        drivers.stop()
        assert not any(getattr(d, "started", False) for d in drivers.devices())

    def test_failed_start_rolls_back(self) -> None:
        loops, camera = FakeLoops(), FakeCamera()
        drivers = LaneDrivers(loops, FakeBarrier(), None, camera, BrokenDisplay())
        with pytest.raises(OSError, match="no such port"):
            drivers.start(lambda _event: None)
        assert not loops.started
        assert not camera.started
