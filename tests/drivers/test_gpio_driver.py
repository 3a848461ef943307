"""The GPIO driver on the in-memory RPi.GPIO: edges, debounce, relay levels, faults."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from pydantic import ValidationError

from drivers.config import GpioIO, GpioPins
from drivers.digital_io import IOModule
from drivers.errors import DriverUnavailableError
from drivers.gpio import gpio_module
from drivers.interfaces import (
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    Loop,
    LoopChanged,
    Position,
)
from drivers.mock_gpio import MockGPIO
from drivers.testing import PINS, Events
from plumbing.testing import wait_until

RPI_GPIO_INSTALLED = importlib.util.find_spec("RPi") is not None


def config(**changes: object) -> GpioIO:
    return GpioIO.model_validate({"type": "gpio", "pins": PINS, **changes})


@contextmanager
def started(gpio: MockGPIO, cfg: GpioIO) -> Iterator[tuple[Events, IOModule]]:
    module = gpio_module(cfg, gpio=gpio, pulse_s=0.05)
    events = Events()
    module.loops.start(events)
    module.barrier.start(events)
    try:
        yield events, module
    finally:
        module.barrier.stop()
        module.loops.stop()


def occupied(loop: Loop) -> Callable[[DeviceEvent], bool]:
    return lambda e: isinstance(e, LoopChanged) and e.loop is loop and e.occupied


class TestWithoutRPiGPIO:
    """Off a Raspberry Pi the driver fails at start, saying what to install."""

    @pytest.mark.skipif(RPI_GPIO_INSTALLED, reason="RPi.GPIO is installed on this machine")
    def test_missing_module_names_the_extra(self) -> None:
        with pytest.raises(
            DriverUnavailableError, match=r"RPi\.GPIO.*`rpi` extra.*lanewarden\[rpi\]"
        ):
            gpio_module(config())


class TestGpioInputs:
    """Edges wake the driver; debounce filters bounces; active-low inputs read as on."""

    def test_edge_wakes_the_driver_between_polls(self) -> None:
        gpio = MockGPIO()
        with started(gpio, config(poll_ms=60_000, debounce_ms=0)) as (events, _module):
            wait_until(lambda: 5 in gpio.callbacks, "edge detection set up")
            gpio.drive(5, gpio.LOW)  # active low: the arming loop is occupied
            events.wait_for(occupied(Loop.ARMING), "arming loop occupied")

    def test_bounce_shorter_than_debounce_is_ignored(self) -> None:
        gpio = MockGPIO()
        with started(gpio, config(debounce_ms=1000)) as (events, _module):
            wait_until(lambda: 6 in gpio.callbacks, "edge detection set up")
            gpio.drive(5, gpio.LOW)
            gpio.drive(5, gpio.HIGH)
            gpio.drive(6, gpio.LOW)
            events.wait_for(occupied(Loop.SAFETY), "safety loop occupied")
        changes = [(e.loop, e.occupied) for e in events.all if isinstance(e, LoopChanged)]
        assert changes == [(Loop.SAFETY, True)]

    def test_active_high_inputs(self) -> None:
        gpio = MockGPIO()
        with started(gpio, config(inputs_active_low=False, debounce_ms=0)) as (events, module):
            wait_until(lambda: 19 in gpio.callbacks, "edge detection set up")
            gpio.drive(19, gpio.HIGH)
            wait_until(lambda: module.barrier.position() is Position.DOWN, "down limit on")
            assert not any(isinstance(e, LoopChanged) for e in events.all)


class TestGpioOutputs:
    """Relays are pulsed at the configured level; stop releases every pin."""

    def test_active_low_relay_pulse(self) -> None:
        gpio = MockGPIO()
        seen: list[tuple[int, int]] = []
        gpio.on_output = lambda pin, level: seen.append((pin, level))
        with started(gpio, config(relays_active_low=True)) as (_events, module):
            wait_until(lambda: (27, gpio.HIGH) in seen, "idle relays switched off on connect")
            seen.clear()
            assert module.barrier.open().ok
            wait_until(lambda: (17, gpio.HIGH) in seen, "relay released")
        assert seen == [(17, gpio.LOW), (17, gpio.HIGH)]

    def test_stop_releases_pins_and_edge_detection(self) -> None:
        gpio = MockGPIO()
        with started(gpio, config()):
            wait_until(lambda: len(gpio.callbacks) == 4, "edge detection on the four inputs")
        assert gpio.callbacks == {}
        assert gpio.directions == {}


class TestGpioFaults:
    """A GPIO that cannot be set up or read is a fault event, never a crash."""

    def test_setup_failure_is_a_fault_naming_it(self) -> None:
        gpio = MockGPIO()
        gpio.setmode(gpio.BCM)
        gpio.setup(5, gpio.IN)
        gpio.add_event_detect(5, gpio.BOTH)  # another program holds the pin's edge detection
        with started(gpio, config()) as (events, _module):
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "fault")
        assert isinstance(fault, DeviceFault)
        assert fault.device == "gpio"
        assert fault.reason == (
            "cannot set up GPIO: Conflicting edge detection already enabled for this GPIO channel"
        )

    def test_read_failure_then_recovery(self) -> None:
        gpio = MockGPIO()
        with started(gpio, config()) as (events, _module):
            wait_until(lambda: 5 in gpio.callbacks, "edge detection set up")
            gpio.fail_reads = "board gone"
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "fault")
            assert isinstance(fault, DeviceFault)
            assert fault.reason == "cannot read GPIO 5: board gone"
            gpio.fail_reads = None
            events.wait_for(lambda e: isinstance(e, DeviceRecovered), "recovery")


class TestGpioConfig:
    """Pin assignments are checked when the config is loaded."""

    def test_pin_used_twice_is_refused(self) -> None:
        with pytest.raises(
            ValidationError, match="pin 17 is used for both open_relay and lane_light"
        ):
            GpioPins.model_validate({**PINS.model_dump(), "lane_light": 17})

    def test_pin_out_of_range(self) -> None:
        with pytest.raises(ValidationError, match="less than or equal to 27"):
            GpioPins.model_validate({**PINS.model_dump(), "arming_loop": 40})
