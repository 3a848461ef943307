"""Watching a driver's events, for tests and commissioning of the device drivers.

Public API (as ``structlog.testing`` is): :class:`Events` is an event sink to hand
to any driver's ``start``; a test or a technician's script then waits for the
event it expects (:meth:`Events.wait_for`), with a bound, and fails naming what
did not come. :data:`PINS` is the GPIO pin layout the tests and the examples use.
The in-memory devices themselves are in :mod:`drivers.fakes`; the rigs that pair
each driver with its simulator are in :mod:`simulators.testing`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from drivers.config import GpioPins
from drivers.interfaces import DeviceEvent

WAIT_S = 10.0
"""Generous: a slow, shared machine must never fail a test by being slow."""

PINS = GpioPins(
    arming_loop=5,
    safety_loop=6,
    barrier_up=13,
    barrier_down=19,
    open_relay=17,
    close_relay=27,
    lane_light=22,
)
"""A lane on a Raspberry Pi's GPIO (BCM numbers), without a barrier fault input."""


class Events:
    """A thread-safe event sink that tests can wait on."""

    def __init__(self) -> None:
        self._events: list[DeviceEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    @property
    def all(self) -> list[DeviceEvent]:
        """Every event so far, in order."""
        with self._changed:
            return list(self._events)

    def wait_for(
        self, matches: Callable[[DeviceEvent], bool], what: str, timeout: float = WAIT_S
    ) -> DeviceEvent:
        """The first event so far or to come that matches; fails naming ``what``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events:
                    if matches(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s; got {self._events}")
                self._changed.wait(left)

    def clear(self) -> None:
        """Forget the events so far."""
        with self._changed:
            self._events.clear()
