"""An in-memory RPi.GPIO, for running the GPIO driver off a Raspberry Pi (``type = "gpio_mock"``).

It implements the part of RPi.GPIO's API the driver uses, with RPi.GPIO's own
refusals (no numbering mode set, channel not set up, output on an input). With
nothing wired, an input rests at its pull level and a relay only changes its
pin's level. Like gpiozero's ``MockFactory`` it ships with the drivers so that a
technician can choose it in a lane file, and it has a side for tests and
simulators: :meth:`MockGPIO.drive` sets an input's level and fires edge
callbacks, :attr:`on_output` sees every output change, :attr:`sync` runs before
every read so that a simulated world can refresh the inputs, and
:attr:`fail_reads` makes reads raise like a board whose GPIO went away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from drivers.config import MockGpioIO
from drivers.digital_io import IOModule
from drivers.gpio import gpio_module


class MockGPIO:
    BCM = 11
    BOARD = 10
    OUT = 0
    IN = 1
    LOW = 0
    HIGH = 1
    PUD_OFF = 20
    PUD_DOWN = 21
    PUD_UP = 22
    RISING = 31
    FALLING = 32
    BOTH = 33

    def __init__(self) -> None:
        self.mode: int | None = None
        self.directions: dict[int, int] = {}
        self.levels: dict[int, int] = {}
        self.callbacks: dict[int, tuple[int, Callable[[int], Any]]] = {}
        self.on_output: Callable[[int, int], None] | None = None
        self.sync: Callable[[], None] | None = None
        self.fail_reads: str | None = None
        self._lock = threading.RLock()

    # -- RPi.GPIO's API

    def setwarnings(self, flag: bool) -> None:
        self.warnings = flag

    def setmode(self, mode: int) -> None:
        if mode not in (self.BCM, self.BOARD):
            raise ValueError("An invalid mode was passed to setmode()")
        self.mode = mode

    def getmode(self) -> int | None:
        return self.mode

    def setup(
        self,
        channel: int,
        direction: int,
        pull_up_down: int = PUD_OFF,
        initial: int | None = None,
    ) -> None:
        with self._lock:
            self._need_mode()
            self.directions[channel] = direction
            if direction == self.IN:
                self.levels[channel] = self.HIGH if pull_up_down == self.PUD_UP else self.LOW
            else:
                self.levels[channel] = self.LOW if initial is None else initial

    def input(self, channel: int) -> int:
        if self.sync is not None:
            self.sync()
        with self._lock:
            if self.fail_reads is not None:
                raise RuntimeError(self.fail_reads)
            self._need_setup(channel)
            return self.levels[channel]

    def output(self, channel: int, value: int) -> None:
        with self._lock:
            self._need_setup(channel)
            if self.directions[channel] != self.OUT:
                raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
            self.levels[channel] = self.HIGH if value else self.LOW
            hook = self.on_output
        if hook is not None:
            hook(channel, self.levels[channel])

    def add_event_detect(
        self,
        channel: int,
        edge: int,
        callback: Callable[[int], Any] | None = None,
        bouncetime: int | None = None,
    ) -> None:
        with self._lock:
            self._need_setup(channel)
            if self.directions[channel] != self.IN:
                raise RuntimeError("You must setup() the GPIO channel as an input first")
            if channel in self.callbacks:
                raise RuntimeError(
                    "Conflicting edge detection already enabled for this GPIO channel"
                )
            self.callbacks[channel] = (edge, callback or (lambda _c: None))

    def remove_event_detect(self, channel: int) -> None:
        with self._lock:
            self.callbacks.pop(channel, None)

    def cleanup(self, channel: int | list[int] | None = None) -> None:
        with self._lock:
            channels = (
                list(self.directions)
                if channel is None
                else [channel]
                if isinstance(channel, int)
                else channel
            )
            for c in channels:
                self.directions.pop(c, None)
                self.levels.pop(c, None)
                self.callbacks.pop(c, None)

    # -- the test side

    def drive(self, channel: int, level: int) -> None:
        """Set an input pin's level, firing its edge callback on a change."""
        with self._lock:
            old = self.levels.get(channel)
            self.levels[channel] = level
            edge, callback = self.callbacks.get(channel, (None, None))
        if callback is None or old == level:
            return
        rising = level == self.HIGH
        if edge == self.BOTH or (edge == self.RISING) == rising:
            callback(channel)

    def _need_mode(self) -> None:
        if self.mode is None:
            raise RuntimeError(
                "Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)"
            )

    def _need_setup(self, channel: int) -> None:
        if channel not in self.directions:
            raise RuntimeError("You must setup() the GPIO channel first")


def mock_gpio_module(
    config: MockGpioIO, travel_timeout_s: float = 6.0, pulse_s: float = 0.3
) -> IOModule:
    """The GPIO I/O module on a fresh :class:`MockGPIO`; ``module.transport.gpio`` is that mock."""
    return gpio_module(config, gpio=MockGPIO(), travel_timeout_s=travel_timeout_s, pulse_s=pulse_s)
