"""The driver factory that diag and the daemon build a lane's drivers with."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
from paths import REPO

from drivers import factory
from drivers.config import (
    BarrierConfig,
    CameraConfig,
    DeviceSections,
    DisplayConfig,
    GpioIO,
    IOBarrier,
    IOModuleConfig,
    LoopsConfig,
    MockGpioIO,
    OpenCVCamera,
    type_key,
)
from drivers.digital_io import ModuleBarrier, ModuleLight, ModuleLoops
from drivers.errors import DriverUnavailableError
from drivers.factory import DriverParts, LaneDrivers, build_lane
from drivers.fakes import FakeBarrier, FakeCamera, FakeDisplay, FakeLaneLight, FakeLoops
from drivers.gpio import GpioTransport
from drivers.interfaces import BarrierMoved, DeviceFault, EventSink, Position
from drivers.mock_gpio import MockGPIO
from drivers.testing import PINS, Events
from edge.config.lane import LaneConfig, load_lane


def lane(name: str = "riverside-entry") -> LaneConfig:
    return load_lane(REPO / "config" / "lanes" / f"{name}.toml").lane


def devices(name: str = "riverside-entry") -> DeviceSections:
    return lane(name).device_sections()


class TestBuild:
    """Drivers are chosen by each section's type; the I/O module is shared."""

    def test_modbus_lane_shares_one_module(self) -> None:
        drivers = build_lane(devices())
        assert isinstance(drivers.loops, ModuleLoops)
        assert isinstance(drivers.barrier, ModuleBarrier)
        assert isinstance(drivers.light, ModuleLight)
        assert drivers.loops.module is drivers.barrier.module is drivers.light.module
        assert drivers.loops.module.transport.label == "modbus tcp 127.0.0.1:5020 unit 1"
        assert drivers.barrier.module.timing.travel_timeout_s == 6.0

    def test_rtu_lane_with_serial_barrier(self) -> None:
        drivers = build_lane(devices("riverside-exit"))
        assert isinstance(drivers.loops, ModuleLoops)
        assert drivers.loops.module.transport.label == "modbus rtu /dev/ttyUSB0 unit 1"
        assert type(drivers.barrier).__name__ == "SerialBarrierDriver"

    def test_unknown_type_names_the_known_ones(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delitem(factory.CAMERAS, OpenCVCamera)
        with pytest.raises(
            DriverUnavailableError,
            match=r"camera: no driver for type 'opencv' in this build \(known: none\)",
        ):
            build_lane(devices())

    def test_io_loops_without_io_module(self) -> None:
        parts = DriverParts(lane().model_copy(update={"io": None}).device_sections())
        with pytest.raises(DriverUnavailableError, match="io: the lane has no I/O module"):
            factory.build_loops(parts)

    @pytest.mark.skipif(
        importlib.util.find_spec("RPi") is not None, reason="RPi.GPIO is installed here"
    )
    def test_gpio_lane_off_a_pi_says_what_to_install(self) -> None:
        gpio_lane = lane().model_copy(update={"io": GpioIO(type="gpio", pins=PINS)})
        with pytest.raises(DriverUnavailableError, match=r"pip install 'lanewarden\[rpi\]'"):
            build_lane(gpio_lane.device_sections())


def members(union: Any) -> set[type]:
    """The models of an ``Annotated[A | B, Field(discriminator=...)]`` config union."""
    (models, _field) = get_args(union)
    return set(get_args(models)) or {models}


class TestRegistries:
    """Each config model of a device union has exactly one builder, keyed by the model."""

    def test_unions_and_registries_hold_the_same_models(self) -> None:
        assert members(IOModuleConfig) == set(factory.IO_MODULES)
        assert members(LoopsConfig) == set(factory.LOOPS)
        assert members(BarrierConfig) == set(factory.BARRIERS)
        assert members(CameraConfig) == set(factory.CAMERAS)
        assert members(DisplayConfig) == set(factory.DISPLAYS)

    def test_type_strings_are_unique_per_kind(self) -> None:
        for registry in (factory.IO_MODULES, factory.BARRIERS):
            keys = [type_key(model) for model in registry]
            assert len(keys) == len(set(keys))


class TestMockGpio:
    """A lane file can choose ``type = "gpio_mock"``: the GPIO driver on an in-memory GPIO."""

    def test_lane_file_with_gpio_mock_builds(self, tmp_path: Path) -> None:
        shutil.copytree(REPO / "config", tmp_path / "config")
        path = tmp_path / "config" / "lanes" / "riverside-entry.toml"
        modbus_io = '[io]\ntype = "modbus_tcp"\nhost = "127.0.0.1"\nport = 5020\n'
        mock_io = (
            '[io]\ntype = "gpio_mock"\n'
            "pins = { arming_loop = 5, safety_loop = 6, barrier_up = 13, barrier_down = 19, "
            "open_relay = 17, close_relay = 27, lane_light = 22 }\n"
        )
        text = path.read_text(encoding="utf-8")
        assert modbus_io in text
        path.write_text(text.replace(modbus_io, mock_io), encoding="utf-8")
        drivers = build_lane(load_lane(path).lane.device_sections())
        assert isinstance(drivers.loops, ModuleLoops)
        assert isinstance(drivers.barrier, ModuleBarrier)
        assert drivers.loops.module is drivers.barrier.module
        transport = drivers.loops.module.transport
        assert isinstance(transport, GpioTransport)
        assert isinstance(transport.gpio, MockGPIO)

    def test_unwired_mock_barrier_times_out(self) -> None:
        sections = replace(
            devices(),
            io=MockGpioIO(type="gpio_mock", pins=PINS, debounce_ms=0),
            barrier=IOBarrier(type="io", travel_timeout_ms=100, pulse_ms=20),
        )
        barrier = build_lane(sections).barrier
        events = Events()
        barrier.start(events)
        try:
            events.wait_for(
                lambda e: isinstance(e, BarrierMoved) and e.position is Position.MOVING,
                "no limit switch on: moving",
            )
            assert barrier.open().ok
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "travel timeout")
            assert isinstance(fault, DeviceFault)
            assert "travel timeout" in fault.reason
        finally:
            barrier.stop()


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
