"""Builds a lane's drivers from the device sections of its configuration.

Each device kind has a registry keyed by the config model class, whose
``type`` literal (in :mod:`drivers.config`) is the one place a driver's name is
written: pydantic picks the class from the lane file's ``type``, and the class
picks the builder, so a typo cannot separate the two. A builder takes the
device's config model and the lane's :class:`DriverParts` (which hands out the
one shared I/O module) and returns the driver. Builders import their heavy
dependencies (pymodbus, pyserial, OpenCV, RPi.GPIO) inside, so importing this
module stays cheap.

To add a driver, write its config model in :mod:`drivers.config`, add it to
its kind's union there, and add a builder like ``_serial_barrier`` below to its
kind's registry (``BARRIERS``, ``CAMERAS``, ``DISPLAYS``, ``LOOPS``,
``IO_MODULES``); tests check that every model of a union has a builder.

The lane light has no section of its own: it is the lane light coil or pin of
the lane's I/O module, when the lane has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from contracts.schema import ConfigModel
from drivers.config import (
    DeviceSections,
    GpioIO,
    IOBarrier,
    IOLoops,
    MockGpioIO,
    ModbusRtuIO,
    ModbusTcpIO,
    OpenCVCamera,
    SerialBarrier,
    SerialDisplay,
    type_key,
)
from drivers.digital_io import IOModule
from drivers.errors import DriverUnavailableError
from drivers.interfaces import (
    Barrier,
    Camera,
    Device,
    Display,
    EventSink,
    LaneLight,
    LoopInputs,
)


@dataclass
class DriverParts:
    """What builders share for one lane: its device sections and its one I/O module connection."""

    devices: DeviceSections
    _io: IOModule | None = field(default=None, init=False)

    def io_module(self) -> IOModule:
        if self._io is None:
            if self.devices.io is None:
                raise DriverUnavailableError(
                    "io: the lane has no I/O module, but its barrier or loops are of type `io`"
                )
            builder = _lookup(IO_MODULES, "io", self.devices.io)
            self._io = builder(self.devices.io, self)
        return self._io

    def barrier_timing(self) -> tuple[float, float]:
        """Travel timeout and relay pulse of an ``io`` barrier (defaults otherwise), seconds."""
        barrier = self.devices.barrier
        if isinstance(barrier, IOBarrier):
            return barrier.travel_timeout_ms / 1000, barrier.pulse_ms / 1000
        default = IOBarrier(type="io")
        return default.travel_timeout_ms / 1000, default.pulse_ms / 1000


# -- builders of the I/O module kinds ------------------------------------------


def _modbus_module(config: Any, parts: DriverParts) -> IOModule:
    from drivers.modbus_io import modbus_module

    travel_s, pulse_s = parts.barrier_timing()
    return modbus_module(config, travel_timeout_s=travel_s, pulse_s=pulse_s)


def _gpio_module(config: Any, parts: DriverParts) -> IOModule:
    from drivers.gpio import gpio_module

    travel_s, pulse_s = parts.barrier_timing()
    return gpio_module(config, travel_timeout_s=travel_s, pulse_s=pulse_s)


def _mock_gpio_module(config: Any, parts: DriverParts) -> IOModule:
    from drivers.mock_gpio import mock_gpio_module

    travel_s, pulse_s = parts.barrier_timing()
    return mock_gpio_module(config, travel_timeout_s=travel_s, pulse_s=pulse_s)


def _io_loops(config: Any, parts: DriverParts) -> LoopInputs:
    return parts.io_module().loops


def _io_barrier(config: Any, parts: DriverParts) -> Barrier:
    return parts.io_module().barrier


def _serial_barrier(config: Any, parts: DriverParts) -> Barrier:
    from drivers.serial_barrier import build_serial_barrier

    return build_serial_barrier(config)


def _opencv_camera(config: Any, parts: DriverParts) -> Camera:
    from drivers.opencv_camera import build_opencv_camera

    return build_opencv_camera(config)


def _serial_display(config: Any, parts: DriverParts) -> Display:
    from drivers.serial_display import build_serial_display

    return build_serial_display(config)


# -- the registries: config model class -> builder ---------------------------------

Driver = TypeVar("Driver")
Builders = dict[type[ConfigModel], Callable[[Any, DriverParts], Driver]]

IO_MODULES: Builders[IOModule] = {
    ModbusTcpIO: _modbus_module,
    ModbusRtuIO: _modbus_module,
    GpioIO: _gpio_module,
    MockGpioIO: _mock_gpio_module,
}
LOOPS: Builders[LoopInputs] = {
    IOLoops: _io_loops,
}
BARRIERS: Builders[Barrier] = {
    IOBarrier: _io_barrier,
    SerialBarrier: _serial_barrier,
}
CAMERAS: Builders[Camera] = {
    OpenCVCamera: _opencv_camera,
}
DISPLAYS: Builders[Display] = {
    SerialDisplay: _serial_display,
}


def _lookup(
    registry: Builders[Driver], section: str, config: ConfigModel
) -> Callable[[Any, DriverParts], Driver]:
    try:
        return registry[type(config)]
    except KeyError:
        known = ", ".join(sorted(type_key(model) for model in registry)) or "none"
        raise DriverUnavailableError(
            f"{section}: no driver for type {type_key(type(config))!r} in this build "
            f"(known: {known})"
        ) from None


# -- building ---------------------------------------------------------------------


def build_loops(parts: DriverParts) -> LoopInputs:
    config = parts.devices.loops
    builder = _lookup(LOOPS, "loops", config)
    loops: LoopInputs = builder(config, parts)
    return loops


def build_barrier(parts: DriverParts) -> Barrier:
    config = parts.devices.barrier
    builder = _lookup(BARRIERS, "barrier", config)
    barrier: Barrier = builder(config, parts)
    return barrier


def build_light(parts: DriverParts) -> LaneLight | None:
    return parts.io_module().light if parts.devices.io is not None else None


def build_camera(parts: DriverParts) -> Camera:
    config = parts.devices.camera
    builder = _lookup(CAMERAS, "camera", config)
    camera: Camera = builder(config, parts)
    return camera


def build_display(parts: DriverParts) -> Display | None:
    config = parts.devices.display
    if config is None:
        return None
    builder = _lookup(DISPLAYS, "display", config)
    display: Display = builder(config, parts)
    return display


@dataclass
class LaneDrivers:
    """Every driver of one lane, started and stopped together."""

    loops: LoopInputs
    barrier: Barrier
    light: LaneLight | None
    camera: Camera
    display: Display | None

    def devices(self) -> list[Device]:
        optional = [self.light, self.display]
        return [self.loops, self.barrier, self.camera, *(d for d in optional if d is not None)]

    def start(self, sink: EventSink) -> None:
        started: list[Device] = []
        try:
            for device in self.devices():
                device.start(sink)
                started.append(device)
        except BaseException:
            for device in reversed(started):
                device.stop()
            raise

    def stop(self) -> None:
        for device in reversed(self.devices()):
            device.stop()


def build_lane(devices: DeviceSections) -> LaneDrivers:
    """All drivers of a lane; raises DriverUnavailableError naming the first that cannot be built."""
    parts = DriverParts(devices)
    return LaneDrivers(
        loops=build_loops(parts),
        barrier=build_barrier(parts),
        light=build_light(parts),
        camera=build_camera(parts),
        display=build_display(parts),
    )
