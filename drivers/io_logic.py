"""The pure logic of a lane's digital inputs: debounce, barrier position and travel.

No threads and no clock: each piece is fed raw readings with their times and
says what changed. :mod:`drivers.digital_io` runs it inside the poll thread of
an I/O module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.interfaces import (
    BarrierMoved,
    BarrierReported,
    BarrierSignal,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    Position,
)
from plumbing import log

logger = log.get(__name__)


class Output(StrEnum):
    OPEN = "open_relay"
    CLOSE = "close_relay"
    LIGHT = "lane_light"


@dataclass(frozen=True)
class Inputs:
    """One reading of the five inputs (and the help button, if wired), raw (not debounced)."""

    arming: bool
    safety: bool
    up: bool
    down: bool
    fault: bool
    help: bool = False


class Debouncer:
    """A binary signal that changes only once the raw input has been stable ``hold_s``."""

    def __init__(self, hold_s: float, initial: bool = False) -> None:
        self.hold_s = hold_s
        self.state = initial
        #: When the raw input first showed the current state (None until a change).
        self.since: float | None = None
        self._candidate_since: float | None = None

    def update(self, raw: bool, now: float) -> bool:
        """Feed one raw reading; returns True when the debounced state just changed."""
        if raw == self.state:
            self._candidate_since = None
            return False
        if self._candidate_since is None:
            self._candidate_since = now
        if now - self._candidate_since >= self.hold_s:
            self.state = raw
            self.since = self._candidate_since
            self._candidate_since = None
            return True
        return False

    def reset(self) -> None:
        self.state = False
        self.since = None
        self._candidate_since = None

    def due(self) -> float | None:
        """When a pending change would be confirmed, if one is pending."""
        return None if self._candidate_since is None else self._candidate_since + self.hold_s


def position_from_limits(inputs: Inputs) -> Position:
    if inputs.fault or (inputs.up and inputs.down):
        return Position.FAULT
    if inputs.up:
        return Position.UP
    if inputs.down:
        return Position.DOWN
    return Position.MOVING


class BarrierTracker:
    """Position, travel timeout and fault of a relay barrier, from its limit switches.

    Pure: fed with readings and times, returns the events to report.
    """

    def __init__(self, travel_timeout_s: float) -> None:
        self.travel_timeout_s = travel_timeout_s
        self.position = Position.UNKNOWN
        self._target: Position | None = None
        self._commanded_at = 0.0
        self._fault: str | None = None
        self._travel_fault: str | None = None

    def command(self, target: Position, now: float) -> None:
        self._target = target
        self._commanded_at = now
        self._travel_fault = None

    @property
    def fault(self) -> str | None:
        return self._fault

    def due(self) -> float | None:
        """When the command in progress times out, if one is."""
        return None if self._target is None else self._commanded_at + self.travel_timeout_s

    def forget(self) -> None:
        """The connection is gone: the position is unknown until the next reading."""
        self.position = Position.UNKNOWN

    def update(self, inputs: Inputs, now: float) -> list[DeviceEvent]:
        events: list[DeviceEvent] = []
        seen = position_from_limits(inputs)
        if self._target is not None:
            if seen == self._target:
                self._target = None
            elif (
                self._target is Position.DOWN
                and seen is Position.UP
                and (self.position is Position.MOVING)
            ):
                # The arm went back up while closing: the barrier reversed on an obstacle.
                self._target = None
                events.append(
                    BarrierReported(
                        BarrierSignal.OBSTACLE, now, "arm reversed to the up limit while closing"
                    )
                )
            elif now - self._commanded_at >= self.travel_timeout_s:
                self._travel_fault = (
                    f"travel timeout: the arm did not reach the {self._target.value} limit "
                    f"within {self.travel_timeout_s:.1f} s"
                )
                self._target = None
        if seen in (Position.UP, Position.DOWN) and self._target is None:
            self._travel_fault = None
        if inputs.fault:
            fault: str | None = "barrier fault input is on"
        elif inputs.up and inputs.down:
            fault = "both limit switches are on"
        else:
            fault = self._travel_fault
        position = Position.FAULT if fault else seen
        if position != self.position:
            self.position = position
            events.append(BarrierMoved(position, now))
        if fault != self._fault:
            if fault:
                logger.warning("barrier_fault", reason=fault)
                events.append(DeviceFault("barrier", fault, now))
            else:
                logger.info("barrier_recovered")
                events.append(DeviceRecovered("barrier", now))
            self._fault = fault
        return events
