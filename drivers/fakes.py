"""In-memory fakes of every device interface, for unit tests of the lane.

They keep the contracts of the real drivers (the contract suites in
``tests/drivers/contract`` run against both) and add knobs for tests to act as the
world: :meth:`FakeLoops.set` puts a vehicle on a loop, :meth:`FakeBarrier.jam`
makes the next commands fail, :meth:`FakeCamera.show` puts an image in front of
the camera, :meth:`FakeDevice.fault` reports a device fault.

Everything happens synchronously on the caller's thread: events reach the sink
before the call that caused them returns, and the barrier reaches its limit at
once (it reports ``moving`` first, like a real one). Commands before ``start``
fail, as they do on a real driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from drivers.interfaces import (
    BarrierMoved,
    BarrierReported,
    BarrierSignal,
    CommandResult,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    EventSink,
    Frame,
    HelpPressed,
    Loop,
    LoopChanged,
    LoopState,
    Position,
)

Clock = Callable[[], float]


class FakeDevice:
    """Lifecycle and event delivery shared by the fakes."""

    def __init__(self, name: str, clock: Clock = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self.sink: EventSink | None = None
        self.started = False
        self.faulty: str | None = None

    def start(self, sink: EventSink) -> None:
        self.sink = sink
        self.started = True

    def stop(self) -> None:
        self.started = False
        self.sink = None

    def emit(self, event: DeviceEvent) -> None:
        if self.sink is not None:
            self.sink(event)

    def fault(self, reason: str) -> None:
        """The device fails: a DeviceFault now, and commands fail until :meth:`recover`."""
        self.faulty = reason
        self.emit(DeviceFault(self.name, reason, self.clock()))

    def recover(self) -> None:
        if self.faulty is not None:
            self.faulty = None
            self.emit(DeviceRecovered(self.name, self.clock()))

    def _refusal(self) -> CommandResult | None:
        if not self.started:
            return CommandResult.failure(f"{self.name}: not started")
        if self.faulty is not None:
            return CommandResult.failure(f"{self.name}: {self.faulty}")
        return None


class FakeLoops(FakeDevice):
    def __init__(self, name: str = "loops", clock: Clock = time.monotonic) -> None:
        super().__init__(name, clock)
        self._state = {Loop.ARMING: False, Loop.SAFETY: False}
        #: Reported changes started this long before they are reported, as a
        #: debouncing driver's do (0: reported at once, ``since`` left None).
        self.debounce_s = 0.0

    def state(self) -> LoopState:
        return LoopState(arming=self._state[Loop.ARMING], safety=self._state[Loop.SAFETY])

    def press_help(self) -> None:
        """The driver presses the lane's help button (wired beside the loops)."""
        self.emit(HelpPressed(self.clock()))

    def set(self, arming: bool | None = None, safety: bool | None = None) -> None:
        """Put a vehicle on (True) or off (False) a loop; None leaves it as it is."""
        for loop, occupied in ((Loop.ARMING, arming), (Loop.SAFETY, safety)):
            if occupied is not None and occupied != self._state[loop]:
                self._state[loop] = occupied
                now = self.clock()
                since = now - self.debounce_s if self.debounce_s else None
                self.emit(LoopChanged(loop, occupied, now, since))


class FakeBarrier(FakeDevice):
    """A barrier whose arm reaches its limit at once; ``commands`` records what it was told."""

    def __init__(self, name: str = "barrier", clock: Clock = time.monotonic) -> None:
        super().__init__(name, clock)
        self._position = Position.DOWN
        self.locked = False
        self.commands: list[str] = []
        self._jammed: str | None = None

    def position(self) -> Position:
        return self._position

    def open(self) -> CommandResult:
        return self._move("open", Position.UP)

    def close(self) -> CommandResult:
        if self.locked:
            self.commands.append("close")
            return CommandResult.failure("barrier is locked open; unlock it first")
        return self._move("close", Position.DOWN)

    def lock_open(self) -> CommandResult:
        result = self._move("lock_open", Position.UP)
        if result.ok:
            self.locked = True
        return result

    def unlock(self) -> CommandResult:
        self.commands.append("unlock")
        self.locked = False
        return CommandResult.success()

    def jam(self, reason: str = "travel timeout: the arm did not move") -> None:
        """The arm stops moving: the next command reports a fault and fails."""
        self._jammed = reason

    def report(self, signal: BarrierSignal, detail: str = "") -> None:
        """An unsolicited report of the controller (vehicle passed, manual key...)."""
        self.emit(BarrierReported(signal, self.clock(), detail))

    def _move(self, command: str, target: Position) -> CommandResult:
        self.commands.append(command)
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        if self._jammed is not None:
            self._set(Position.FAULT)
            self.fault(self._jammed)
            return CommandResult.failure(self._jammed)
        if self._position != target:
            self._set(Position.MOVING)
            self._set(target)
        return CommandResult.success()

    def _set(self, position: Position) -> None:
        self._position = position
        self.emit(BarrierMoved(position, self.clock()))


class FakeLaneLight(FakeDevice):
    def __init__(self, name: str = "lane_light", clock: Clock = time.monotonic) -> None:
        super().__init__(name, clock)
        self.green: bool | None = None
        self.history: list[bool] = []

    def set_green(self, green: bool) -> CommandResult:
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        self.green = green
        self.history.append(green)
        return CommandResult.success()


class FakeCamera(FakeDevice):
    """A camera showing whatever image the test puts in front of it (black by default)."""

    def __init__(
        self,
        name: str = "camera",
        clock: Clock = time.monotonic,
        size: tuple[int, int] = (480, 640),
    ) -> None:
        super().__init__(name, clock)
        self._image: npt.NDArray[np.uint8] = np.zeros((*size, 3), dtype=np.uint8)
        self._seq = 0
        self._frames: list[Frame] = []
        self.dark = False

    def show(self, image: npt.NDArray[np.uint8], *, capture: bool = True) -> None:
        """What the camera sees from now on; it produces a new frame at once unless
        ``capture`` is False (the next frame is then the next trigger's)."""
        self._image = image
        if capture:
            self._capture()

    def go_dark(self, reason: str = "camera produces no frames") -> None:
        self.dark = True
        self.fault(reason)

    def light_up(self) -> None:
        self.dark = False
        self.recover()
        self._capture()

    def start(self, sink: EventSink) -> None:
        super().start(sink)
        self._capture()

    def latest(self) -> Frame | None:
        if not self.started or self.dark or not self._frames:
            return None
        return self._frames[-1]

    def trigger(self, count: int) -> Sequence[Frame]:
        if not self.started or self.dark:
            return []
        self._capture()
        return list(self._frames[-count:])

    def _capture(self) -> None:
        if not self.started or self.dark:
            return
        self._seq += 1
        self._frames = [*self._frames[-9:], Frame(self._image.copy(), self.clock(), self._seq)]


class FakeDisplay(FakeDevice):
    """A display that remembers every message; ``lines`` is what it shows now."""

    def __init__(self, name: str = "display", clock: Clock = time.monotonic) -> None:
        super().__init__(name, clock)
        self.lines: tuple[str, ...] = ()
        self.shown: list[tuple[str, ...]] = []

    def show(self, lines: Sequence[str]) -> CommandResult:
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        self.lines = tuple(lines)
        self.shown.append(self.lines)
        return CommandResult.success()
