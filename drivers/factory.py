"""Builds a lane's drivers from its configuration, by each device's ``type``.

Each device kind has a registry mapping a config ``type`` to a builder. A
builder takes the device's config model and the lane's :class:`DriverParts`
(which hands out the one shared I/O module) and returns the driver. Builders
import their heavy dependencies (pymodbus, pyserial, OpenCV, RPi.GPIO) inside,
so importing this module stays cheap.

To add a driver, write a builder like ``_serial_barrier`` below and add it to
its kind's registry (``BARRIERS``, ``CAMERAS``, ``DISPLAYS``, ``LOOPS``,
``IO_MODULES``).

The lane light has no section of its own: it is the lane light coil or pin of
the lane's I/O module, when the lane has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.config import IOBarrier
from drivers.digital_io import IOModule
from drivers.interfaces import (
    Barrier,
    Camera,
    Device,
    Display,
    EventSink,
    LaneLight,
    LoopInputs,
)
from edge.config.lane import LaneConfig


class DriverUnavailableError(Exception):
    """A driver cannot be built on this machine or in this build; the message says why."""


@dataclass
class DriverParts:
    """What builders share for one lane: its config and its one I/O module connection."""

    lane: LaneConfig
    _io: IOModule | None = field(default=None, init=False)

    def io_module(self) -> IOModule:
        if self._io is None:
            if self.lane.io is None:
                raise DriverUnavailableError(
                    "io: the lane has no I/O module, but its barrier or loops are of type `io`"
                )
            builder = _lookup(IO_MODULES, "io", self.lane.io.type)
            self._io = builder(self.lane.io, self)
        return self._io

    def barrier_timing(self) -> tuple[float, float]:
        """Travel timeout and relay pulse of an ``io`` barrier (defaults otherwise), seconds."""
        barrier = self.lane.barrier
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


# -- the registries: config `type` -> builder ------------------------------------

IO_MODULES: dict[str, Callable[[Any, DriverParts], IOModule]] = {
    "modbus_tcp": _modbus_module,
    "modbus_rtu": _modbus_module,
    "gpio": _gpio_module,
}
LOOPS: dict[str, Callable[[Any, DriverParts], LoopInputs]] = {
    "io": _io_loops,
}
BARRIERS: dict[str, Callable[[Any, DriverParts], Barrier]] = {
    "io": _io_barrier,
    "serial": _serial_barrier,
}
CAMERAS: dict[str, Callable[[Any, DriverParts], Camera]] = {
    "opencv": _opencv_camera,
}
DISPLAYS: dict[str, Callable[[Any, DriverParts], Display]] = {
    "serial": _serial_display,
}


def _lookup(registry: dict[str, Any], section: str, kind: str) -> Any:
    try:
        return registry[kind]
    except KeyError:
        known = ", ".join(sorted(registry)) or "none"
        raise DriverUnavailableError(
            f"{section}: no driver for type {kind!r} in this build (known: {known})"
        ) from None


# -- building ---------------------------------------------------------------------


def build_loops(parts: DriverParts) -> LoopInputs:
    config = parts.lane.loops
    builder = _lookup(LOOPS, "loops", config.type)
    loops: LoopInputs = builder(config, parts)
    return loops


def build_barrier(parts: DriverParts) -> Barrier:
    config = parts.lane.barrier
    builder = _lookup(BARRIERS, "barrier", config.type)
    barrier: Barrier = builder(config, parts)
    return barrier


def build_light(parts: DriverParts) -> LaneLight | None:
    return parts.io_module().light if parts.lane.io is not None else None


def build_camera(parts: DriverParts) -> Camera:
    config = parts.lane.camera
    builder = _lookup(CAMERAS, "camera", config.type)
    camera: Camera = builder(config, parts)
    return camera


def build_display(parts: DriverParts) -> Display | None:
    config = parts.lane.display
    if config is None:
        return None
    builder = _lookup(DISPLAYS, "display", config.type)
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


def build_lane(lane: LaneConfig) -> LaneDrivers:
    """All drivers of a lane; raises DriverUnavailableError naming the first that cannot be built."""
    parts = DriverParts(lane)
    return LaneDrivers(
        loops=build_loops(parts),
        barrier=build_barrier(parts),
        light=build_light(parts),
        camera=build_camera(parts),
        display=build_display(parts),
    )
