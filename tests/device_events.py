"""Collecting the events a driver reports, and waiting for one, in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from drivers.interfaces import DeviceEvent

WAIT_S = 10.0  # generous: a slow CI machine must never fail a test by being slow


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
        with self._changed:
            return list(self._events)

    def wait_for(
        self, matches: Callable[[DeviceEvent], bool], what: str, timeout: float = WAIT_S
    ) -> DeviceEvent:
        """The first event so far or to come that matches; fails the test naming ``what``."""
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
        with self._changed:
            self._events.clear()


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Wait until ``check()`` is true; fails the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true within {timeout} s")
        time.sleep(0.01)
