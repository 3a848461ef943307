"""Loops, limit switches and relays wired to a Raspberry Pi's GPIO header, through RPi.GPIO.

RPi.GPIO is the optional ``rpi`` extra; it only installs and runs on a Pi.
Building the driver elsewhere raises :class:`~drivers.errors.DriverUnavailableError`
saying which package to install. :mod:`drivers.mock_gpio` passes an in-memory
module with the same API (``gpio=``) instead of the real one.

Inputs use RPi.GPIO's edge detection to wake the poll thread at once; the
debounce of :class:`~drivers.digital_io.IOModule` then confirms the change, and
the thread still reads every ``poll_ms`` so that a missed edge costs at most
one period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.config import GpioPins, GpioWiring
from drivers.digital_io import IOFaultError, IOModule, ModuleTiming
from drivers.errors import DriverUnavailableError
from drivers.io_logic import Inputs, Output


def import_rpi_gpio() -> Any:
    """The real RPi.GPIO module, or DriverUnavailableError naming what to install."""
    try:
        from RPi import GPIO
    except ImportError:
        raise DriverUnavailableError(
            "the GPIO driver needs RPi.GPIO, which is not installed: on the Raspberry Pi, "
            "install lanewarden with the `rpi` extra (pip install 'lanewarden[rpi]')"
        ) from None
    except RuntimeError as exc:
        # RPi.GPIO refuses to load on other boards ("This module can only be run on a Raspberry Pi!").
        raise DriverUnavailableError(
            f"RPi.GPIO cannot run on this machine ({exc}); the GPIO driver needs a Raspberry Pi"
        ) from None
    return GPIO


class GpioTransport:
    """The five inputs and three relays on BCM-numbered pins."""

    def __init__(self, config: GpioWiring, gpio: Any) -> None:
        self.gpio = gpio
        self.config = config
        pins: GpioPins = config.pins
        self._inputs = {
            "arming": pins.arming_loop,
            "safety": pins.safety_loop,
            "up": pins.barrier_up,
            "down": pins.barrier_down,
        }
        if pins.barrier_fault is not None:
            self._inputs["fault"] = pins.barrier_fault
        if pins.help_button is not None:
            self._inputs["help"] = pins.help_button
        self._outputs = {
            Output.OPEN: pins.open_relay,
            Output.CLOSE: pins.close_relay,
            Output.LIGHT: pins.lane_light,
        }
        self.label = "gpio (BCM " + ", ".join(f"{k}={v}" for k, v in self._inputs.items()) + ")"
        self._open = False

    def open(self, wake: Callable[[], None]) -> None:
        g = self.gpio
        pull = g.PUD_UP if self.config.inputs_active_low else g.PUD_DOWN
        try:
            g.setwarnings(False)
            g.setmode(g.BCM)
            for pin in self._inputs.values():
                g.setup(pin, g.IN, pull_up_down=pull)
            for pin in self._outputs.values():
                g.setup(pin, g.OUT, initial=self._level(False))
            for pin in self._inputs.values():
                g.add_event_detect(pin, g.BOTH, callback=lambda _channel: wake())
        except RuntimeError as exc:
            self._release()
            raise IOFaultError(f"cannot set up GPIO: {exc}") from None
        self._open = True

    def read(self) -> Inputs:
        on = {name: self._input_on(pin) for name, pin in self._inputs.items()}
        return Inputs(
            arming=on["arming"],
            safety=on["safety"],
            up=on["up"],
            down=on["down"],
            fault=on.get("fault", False),
            help=on.get("help", False),
        )

    def write(self, output: Output, on: bool) -> None:
        pin = self._outputs[output]
        try:
            self.gpio.output(pin, self._level(on))
        except RuntimeError as exc:
            raise IOFaultError(f"cannot drive GPIO {pin} ({output.value}): {exc}") from None

    def close(self) -> None:
        if self._open:
            self._open = False
            self._release()

    def _release(self) -> None:
        for pin in self._inputs.values():
            try:
                self.gpio.remove_event_detect(pin)
            except RuntimeError:
                continue  # edge detection was never added on this pin
        self.gpio.cleanup([*self._inputs.values(), *self._outputs.values()])

    def _input_on(self, pin: int) -> bool:
        try:
            level = self.gpio.input(pin)
        except RuntimeError as exc:
            raise IOFaultError(f"cannot read GPIO {pin}: {exc}") from None
        high = level == self.gpio.HIGH
        return not high if self.config.inputs_active_low else high

    def _level(self, on: bool) -> int:
        high = not on if self.config.relays_active_low else on
        level: int = self.gpio.HIGH if high else self.gpio.LOW
        return level


def gpio_module(
    config: GpioWiring, gpio: Any | None = None, travel_timeout_s: float = 6.0, pulse_s: float = 0.3
) -> IOModule:
    """Loops, an ``io`` barrier and the lane light on GPIO; ``gpio`` defaults to RPi.GPIO."""
    transport = GpioTransport(config, gpio if gpio is not None else import_rpi_gpio())
    timing = ModuleTiming(
        debounce_s=config.debounce_ms / 1000,
        poll_s=config.poll_ms / 1000,
        travel_timeout_s=travel_timeout_s,
        pulse_s=pulse_s,
    )
    return IOModule(transport, timing, name="gpio")
