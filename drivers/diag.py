"""Technician checks of a lane's devices: loops, barrier, camera, display.

Each check builds its drivers through :mod:`drivers.factory` from the lane's
device sections, exercises the device the way the lane would, prints what it sees as it
happens, and ends with one ``PASS``/``FAIL``/``SKIP`` line giving the reason.
The barrier check never closes the arm on an occupied safety loop.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from drivers.config import DeviceSections
from drivers.errors import DriverUnavailableError
from drivers.factory import (
    DriverParts,
    build_barrier,
    build_camera,
    build_display,
    build_loops,
)
from drivers.interfaces import (
    Barrier,
    BarrierMoved,
    BarrierReported,
    CommandResult,
    Device,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    HelpPressed,
    LoopChanged,
    Position,
)

CHECKS = ("loops", "barrier", "camera", "display")


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    check: str
    verdict: Verdict
    reason: str

    def line(self) -> str:
        return f"{self.verdict.value} {self.check}: {self.reason}"


def describe(event: DeviceEvent) -> str:
    if isinstance(event, LoopChanged):
        return f"{event.loop.value} loop {'occupied' if event.occupied else 'free'}"
    if isinstance(event, BarrierMoved):
        return f"barrier {event.position.value}"
    if isinstance(event, BarrierReported):
        return f"barrier reports {event.signal.value}" + (
            f" ({event.detail})" if event.detail else ""
        )
    if isinstance(event, DeviceFault):
        return f"FAULT {event.device}: {event.reason}"
    if isinstance(event, HelpPressed):
        return "help button pressed"
    return f"{event.device} recovered"


class Watcher:
    """Receives a device's events and prints them, with the time since the watch began."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.clock = clock
        self.events: queue.Queue[DeviceEvent] = queue.Queue()
        self.began = clock()
        self.fault: DeviceFault | None = None

    def __call__(self, event: DeviceEvent) -> None:
        self.events.put(event)

    def until(self, done: Callable[[DeviceEvent], bool], timeout: float) -> DeviceEvent | None:
        """Print events until one is ``done`` (returned), an open fault, or the timeout (None)."""
        deadline = self.clock() + timeout
        while True:
            left = deadline - self.clock()
            try:
                event = self.events.get(timeout=left) if left > 0 else self.events.get_nowait()
            except queue.Empty:
                return None
            self._note(event)
            if done(event):
                return event
            if self.fault is not None and not isinstance(event, DeviceRecovered):
                return event

    def drain(self) -> None:
        """Take in the events already received, without waiting."""
        while True:
            try:
                self._note(self.events.get_nowait())
            except queue.Empty:
                return

    def _note(self, event: DeviceEvent) -> None:
        line = f"  +{event.at - self.began:5.2f} s  {describe(event)}"
        print(line, file=self.out, flush=True)
        if isinstance(event, DeviceFault):
            self.fault = event
        elif isinstance(event, DeviceRecovered):
            self.fault = None


class Diagnosis:
    """The checks of one lane's devices; ``parts`` holds the drivers' shared I/O module."""

    def __init__(
        self,
        devices: DeviceSections,
        out: TextIO,
        watch_s: float = 5.0,
        save_frame: Path | None = None,
        message: str = "LANEWARDEN TEST",
    ) -> None:
        self.devices = devices
        self.out = out
        self.watch_s = watch_s
        self.save_frame = save_frame
        self.message = message
        self.parts = DriverParts(devices)

    def run(self, checks: Sequence[str]) -> list[CheckResult]:
        results = []
        for check in checks:
            print(f"{check}:", file=self.out, flush=True)
            try:
                result = getattr(self, f"check_{check}")()
            except DriverUnavailableError as exc:
                result = CheckResult(check, Verdict.FAIL, str(exc))
            print(result.line(), file=self.out, flush=True)
            results.append(result)
        return results

    # -- the checks

    def check_loops(self) -> CheckResult:
        loops = build_loops(self.parts)
        watcher = Watcher(self.out)
        print(f"  reading the loops for {self.watch_s:g} s", file=self.out, flush=True)
        changes = 0
        with _started(loops, watcher):
            deadline = time.monotonic() + self.watch_s
            while (left := deadline - time.monotonic()) > 0:
                event = watcher.until(lambda e: isinstance(e, LoopChanged), left)
                if isinstance(event, LoopChanged):
                    changes += 1
            state = loops.state()
        if watcher.fault is not None:
            return CheckResult("loops", Verdict.FAIL, _fault_reason(watcher.fault))
        now = f"arming {_occupancy(state.arming)}, safety {_occupancy(state.safety)}"
        return CheckResult(
            "loops", Verdict.PASS, f"read live for {self.watch_s:g} s, {changes} change(s); {now}"
        )

    def check_barrier(self) -> CheckResult:
        barrier = build_barrier(self.parts)
        loops = build_loops(self.parts)
        watcher = Watcher(self.out)
        travel_s = self.parts.barrier_timing()[0] + 2.0
        with _started(loops, watcher), _started(barrier, watcher):
            known = _wait_until(lambda: barrier.position() is not Position.UNKNOWN, watcher, 5.0)
            if watcher.fault is not None:
                return CheckResult("barrier", Verdict.FAIL, _fault_reason(watcher.fault))
            if not known:
                return CheckResult("barrier", Verdict.FAIL, "position still unknown after 5 s")
            if barrier.position() is Position.FAULT:
                # The fault event that names the cause may trail the position by a poll.
                _wait_until(lambda: watcher.fault is not None, watcher, 1.0)
                why = (
                    _fault_reason(watcher.fault)
                    if watcher.fault
                    else "the barrier is in fault at rest"
                )
                return CheckResult("barrier", Verdict.FAIL, why)
            print(f"  at rest: {barrier.position().value}; opening", file=self.out, flush=True)
            rose = self._move(
                verb="open",
                command=barrier.open,
                target=Position.UP,
                barrier=barrier,
                watcher=watcher,
                timeout=travel_s,
            )
            if isinstance(rose, CheckResult):
                return rose
            if loops.state().safety:
                return CheckResult(
                    "barrier",
                    Verdict.FAIL,
                    f"rose in {rose:.2f} s, but the safety loop is occupied: not closing "
                    "(the barrier is left open)",
                )
            print("  closing", file=self.out, flush=True)
            fell = self._move(
                verb="close",
                command=barrier.close,
                target=Position.DOWN,
                barrier=barrier,
                watcher=watcher,
                timeout=travel_s,
            )
            if isinstance(fell, CheckResult):
                return fell
        return CheckResult(
            "barrier", Verdict.PASS, f"rose in {rose:.2f} s and fell in {fell:.2f} s"
        )

    def check_camera(self) -> CheckResult:
        camera = build_camera(self.parts)
        watcher = Watcher(self.out)
        with _started(camera, watcher):
            _wait_until(lambda: camera.latest() is not None, watcher, 10.0)
            frame = camera.latest()
        if frame is None:
            reason = _fault_reason(watcher.fault) if watcher.fault else "no frame within 10 s"
            return CheckResult("camera", Verdict.FAIL, reason)
        height, width = frame.image.shape[:2]
        if self.save_frame is None:
            return CheckResult("camera", Verdict.PASS, f"frame {width}x{height} received")
        import cv2

        if not cv2.imwrite(str(self.save_frame), frame.image):
            return CheckResult(
                "camera", Verdict.FAIL, f"frame received, but cannot write {self.save_frame}"
            )
        return CheckResult(
            "camera", Verdict.PASS, f"frame {width}x{height} saved to {self.save_frame}"
        )

    def check_display(self) -> CheckResult:
        display = build_display(self.parts)
        if display is None:
            return CheckResult("display", Verdict.SKIP, "the lane has no display")
        watcher = Watcher(self.out)
        with _started(display, watcher):
            result = display.show([self.message])
        if not result.ok:
            return CheckResult("display", Verdict.FAIL, result.reason)
        return CheckResult("display", Verdict.PASS, f"showing {self.message!r}; look at the sign")

    def _move(
        self,
        *,
        verb: str,
        command: Callable[[], CommandResult],
        target: Position,
        barrier: Barrier,
        watcher: Watcher,
        timeout: float,
    ) -> float | CheckResult:
        began = time.monotonic()
        result = command()
        if not result.ok:
            return CheckResult("barrier", Verdict.FAIL, f"{verb} refused: {result.reason}")
        reached = watcher.until(
            lambda e: isinstance(e, BarrierMoved) and e.position is target, timeout
        )
        if watcher.fault is not None:
            return CheckResult("barrier", Verdict.FAIL, f"{verb}: {_fault_reason(watcher.fault)}")
        position = barrier.position()
        if reached is None and position is not target:
            return CheckResult(
                "barrier",
                Verdict.FAIL,
                f"{verb}: the arm did not reach {target.value} within {timeout:.1f} s "
                f"(position {position.value})",
            )
        return time.monotonic() - began


@contextmanager
def _started(device: Device, watcher: Watcher) -> Iterator[Device]:
    """Start a device for the block; always stop it after."""
    device.start(watcher)
    try:
        yield device
    finally:
        device.stop()


def _wait_until(check: Callable[[], bool], watcher: Watcher, timeout: float) -> bool:
    """Print events while waiting for ``check()``; False on a fault or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        watcher.drain()
        if watcher.fault is not None:
            return False
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        watcher.until(lambda _e: False, 0.05)


def _fault_reason(fault: DeviceFault) -> str:
    return f"{fault.device}: {fault.reason}"


def _occupancy(occupied: bool) -> str:
    return "occupied" if occupied else "free"


def parse_checks(text: str) -> list[str]:
    """``loops,barrier`` or ``all`` into check names; ValueError naming an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown or not names:
        raise ValueError(
            f"--check: unknown check(s) {unknown or [text]}; expected {', '.join(CHECKS)} or all"
        )
    return names
