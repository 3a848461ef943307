"""The small interfaces every device driver implements.

Drivers report what happens through events delivered to a sink (a callable the
daemon passes to ``start``); they may call the sink from their own threads, so
the daemon's sink must be thread-safe (``loop.call_soon_threadsafe``). Faults are
events, never exceptions escaping a driver thread: a timeout, a Modbus exception
response, a garbled frame, a vanished port or a dark camera become
:class:`DeviceFault`, and the matching :class:`DeviceRecovered` follows when the
device answers again. Commands return a :class:`CommandResult` instead of
raising, so the lane machine can turn a failed command into an event as well.

Timestamps are ``time.monotonic()`` seconds: they order events, they are not
wall-clock times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


class Loop(StrEnum):
    ARMING = "arming"
    SAFETY = "safety"


class Position(StrEnum):
    UP = "up"
    DOWN = "down"
    MOVING = "moving"
    FAULT = "fault"
    UNKNOWN = "unknown"


class BarrierSignal(StrEnum):
    """Unsolicited reports of a barrier controller."""

    VEHICLE_PASSED = "vehicle_passed"
    ARM_BROKEN = "arm_broken"
    OBSTACLE = "obstacle"
    MANUAL_KEY = "manual_key"


@dataclass(frozen=True)
class LoopChanged:
    """A loop's debounced state changed, confirmed at ``at``.

    ``since`` is when the raw input first showed the new state (the debounce
    window's start): the vehicle was on or off the loop from then on. Drivers
    without debouncing leave it None.
    """

    loop: Loop
    occupied: bool
    at: float
    since: float | None = None

    @property
    def began(self) -> float:
        """When the change happened on the loop: ``since`` if known, else ``at``."""
        return self.at if self.since is None else self.since


@dataclass(frozen=True)
class BarrierMoved:
    position: Position
    at: float


@dataclass(frozen=True)
class BarrierReported:
    signal: BarrierSignal
    at: float
    detail: str = ""


@dataclass(frozen=True)
class DeviceFault:
    device: str
    reason: str
    at: float


@dataclass(frozen=True)
class DeviceRecovered:
    device: str
    at: float


@dataclass(frozen=True)
class HelpPressed:
    """The driver pressed the lane's help button (reported once per press)."""

    at: float


DeviceEvent = (
    LoopChanged | BarrierMoved | BarrierReported | DeviceFault | DeviceRecovered | HelpPressed
)
EventSink = Callable[[DeviceEvent], None]


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    reason: str = ""

    @classmethod
    def success(cls) -> CommandResult:
        return cls(ok=True)

    @classmethod
    def failure(cls, reason: str) -> CommandResult:
        return cls(ok=False, reason=reason)


@dataclass(frozen=True)
class LoopState:
    arming: bool
    safety: bool


@dataclass(frozen=True)
class Frame:
    image: npt.NDArray[np.uint8] = field(repr=False)
    at: float
    seq: int


@runtime_checkable
class Device(Protocol):
    """Lifecycle shared by every driver."""

    name: str

    def start(self, sink: EventSink) -> None:
        """Connect and begin reporting events to ``sink``; returns without blocking."""

    def stop(self) -> None:
        """Stop every thread and close every port or socket the driver opened."""


@runtime_checkable
class Barrier(Device, Protocol):
    def open(self) -> CommandResult: ...

    def close(self) -> CommandResult:
        """Close the arm. Drivers never check loops themselves: the lane machine does."""

    def lock_open(self) -> CommandResult: ...

    def unlock(self) -> CommandResult: ...

    def position(self) -> Position: ...


@runtime_checkable
class LoopInputs(Device, Protocol):
    def state(self) -> LoopState:
        """The debounced state of both loops now."""


@runtime_checkable
class LaneLight(Device, Protocol):
    def set_green(self, green: bool) -> CommandResult: ...


@runtime_checkable
class Camera(Device, Protocol):
    def latest(self) -> Frame | None:
        """The newest frame, or None when the camera has produced none yet or is down."""

    def trigger(self, count: int) -> Sequence[Frame]:
        """Frames around now for one vehicle: the newest frames up to ``count``."""


@runtime_checkable
class Display(Device, Protocol):
    def show(self, lines: Sequence[str]) -> CommandResult:
        """Show these lines (top to bottom), replacing what was shown."""
