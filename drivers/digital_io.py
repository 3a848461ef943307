"""Lane devices on digital inputs and relay outputs: loops, a relay barrier, the lane light.

An Ethernet or RS-485 I/O module (Modbus) and a Raspberry Pi's GPIO header do
the same job for a lane: five inputs (two loops, two limit switches, a barrier
fault) and three outputs (open relay, close relay, lane light). The
:class:`IOModule` here owns one connection to such a device through a
:class:`Transport`, polls it from one thread, and serves three drivers from it:
:class:`ModuleLoops`, :class:`ModuleBarrier` and :class:`ModuleLight`.

Transports raise :class:`IOFaultError` with a message naming the fault; the module
turns it into a :class:`~drivers.interfaces.DeviceFault` event and a log line,
closes the connection and reconnects with back-off. A later successful read
gives :class:`~drivers.interfaces.DeviceRecovered`.

Commands (relay writes) run on the caller's thread, serialised with the poll
thread by one lock, so that ``open()`` reports at once whether the module took
the command. A relay pulse is released by the poll thread when it is due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from drivers.interfaces import (
    BarrierMoved,
    BarrierReported,
    BarrierSignal,
    CommandResult,
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    EventSink,
    HelpPressed,
    Loop,
    LoopChanged,
    LoopState,
    Position,
)
from edge import log

logger = log.get(__name__)

Clock = Callable[[], float]


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


class IOFaultError(Exception):
    """A request to the I/O device failed; the message says what happened."""


class Transport(Protocol):
    """One physical connection to the inputs and relays."""

    label: str

    def open(self, wake: Callable[[], None]) -> None:
        """Connect; ``wake`` may be called (from any thread) when an input may have changed."""

    def read(self) -> Inputs: ...

    def write(self, output: Output, on: bool) -> None: ...

    def close(self) -> None:
        """Release the connection; never raises."""


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


@dataclass(frozen=True)
class ModuleTiming:
    debounce_s: float
    poll_s: float
    travel_timeout_s: float = 6.0
    pulse_s: float = 0.3
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0


class IOModule:
    """One connection to an I/O device, polled from one thread, serving three drivers.

    The poll thread runs while at least one of :attr:`loops`, :attr:`barrier`,
    :attr:`light` is started.
    """

    def __init__(
        self,
        transport: Transport,
        timing: ModuleTiming,
        name: str = "io",
        clock: Clock = time.monotonic,
    ) -> None:
        self.transport = transport
        self.timing = timing
        self.name = name
        self.clock = clock
        self.loops = ModuleLoops(self)
        self.barrier = ModuleBarrier(self)
        self.light = ModuleLight(self)
        self._lock = threading.RLock()
        self._sinks: dict[str, EventSink] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._connected = False
        self._fault: str | None = None
        self._pulses: dict[Output, float] = {}
        self._light: bool | None = None
        self._outbox: list[tuple[str, DeviceEvent]] = []
        self._debouncers = {
            Loop.ARMING: Debouncer(timing.debounce_s),
            Loop.SAFETY: Debouncer(timing.debounce_s),
        }
        self._tracker = BarrierTracker(timing.travel_timeout_s)
        #: The help button's last reading; None before the first (a button held at start
        #: is not a press).
        self._help_held: bool | None = None

    # -- lifecycle shared by the three drivers

    def attach(self, device: str, sink: EventSink) -> None:
        """Start serving ``device``; a fault already known is reported to it at once."""
        with self._lock:
            self._sinks[device] = sink
            known: list[DeviceEvent] = []
            if self._fault is not None:
                known.append(DeviceFault(self.name, self._fault, self.clock()))
            if device == "barrier" and self._tracker.fault is not None:
                known.append(DeviceFault("barrier", self._tracker.fault, self.clock()))
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name=f"{self.name}-poll", daemon=True
                )
                self._thread.start()
        for event in known:
            sink(event)

    def detach(self, device: str) -> None:
        with self._lock:
            self._sinks.pop(device, None)
            thread = self._thread if not self._sinks else None
            if thread is not None:
                self._thread = None
                self._stop.set()
                self._wake.set()
        if thread is not None:
            thread.join()
            with self._lock:
                self._shutdown()

    def _shutdown(self) -> None:
        """Release relays still pulsed (never leave an energised relay behind), then close."""
        if self._connected:
            for output in list(self._pulses):
                try:
                    self.transport.write(output, False)
                except IOFaultError as exc:
                    logger.warning("relay_release_failed", relay=output.value, reason=str(exc))
                    break
        self._pulses.clear()
        self._disconnect()
        # Stopped, the module knows nothing: the next start reads everything afresh.
        self._tracker.forget()
        self._help_held = None
        for debouncer in self._debouncers.values():
            debouncer.reset()

    # -- state read by the drivers

    def loop_state(self) -> LoopState:
        with self._lock:
            return LoopState(
                arming=self._debouncers[Loop.ARMING].state,
                safety=self._debouncers[Loop.SAFETY].state,
            )

    def position(self) -> Position:
        with self._lock:
            return self._tracker.position

    # -- commands

    def pulse(self, output: Output, target: Position) -> CommandResult:
        with self._lock:
            result = self._write(output, True)
            if result.ok:
                self._pulses[output] = self.clock() + self.timing.pulse_s
                self._tracker.command(target, self.clock())
                self._wake.set()  # the poll thread must time the pulse and the travel
                logger.info("relay_pulsed", module=self.name, relay=output.value)
            return result

    def set_light(self, green: bool) -> CommandResult:
        with self._lock:
            self._light = green
            return self._write(Output.LIGHT, green)

    def _write(self, output: Output, on: bool) -> CommandResult:
        if self._thread is None:
            return CommandResult.failure(f"{self.name}: not started")
        if not self._connected:
            reason = self._fault or "not connected yet"
            return CommandResult.failure(f"{self.name} ({self.transport.label}): {reason}")
        try:
            self.transport.write(output, on)
        except IOFaultError as exc:
            self._outbox.extend(self._lost(str(exc)))
            self._wake.set()
            return CommandResult.failure(f"{self.name} ({self.transport.label}): {exc}")
        return CommandResult.success()

    # -- the poll thread

    def _run(self) -> None:
        backoff = self.timing.backoff_initial_s
        while not self._stop.is_set():
            if self._poll_once():
                backoff = self.timing.backoff_initial_s
                wait = self._until_next_due()
            else:
                wait = backoff
                backoff = min(backoff * 2, self.timing.backoff_max_s)
            self._wake.wait(wait)
            self._wake.clear()

    def _until_next_due(self) -> float:
        """The poll period, shortened to the next pulse end, debounce or travel deadline."""
        with self._lock:
            deadlines = [*self._pulses.values(), self._tracker.due()]
            deadlines.extend(d.due() for d in self._debouncers.values())
        wait = self.timing.poll_s
        now = self.clock()
        for due in deadlines:
            if due is not None:
                wait = min(wait, max(due - now, 0.0))
        return wait

    def _poll_once(self) -> bool:
        """Connect if needed, release due pulses, read and report; False on a fault."""
        events: list[tuple[str, DeviceEvent]] = []
        fresh = False
        with self._lock:
            try:
                if not self._connected:
                    self.transport.open(self._wake.set)
                    self._connected = True
                    logger.info("io_connected", module=self.name, via=self.transport.label)
                    fresh = True
                    if self._light is not None:
                        self.transport.write(Output.LIGHT, self._light)
                self._release_due_pulses()
                inputs = self.transport.read()
                if fresh:
                    self._release_idle_relays()
            except IOFaultError as exc:
                events.extend(self._lost(str(exc)))
                ok = False
            except Exception as exc:
                # A library bug must not kill the poll thread: report it as a fault and go on.
                logger.exception("io_unexpected_error", module=self.name)
                events.extend(self._lost(f"unexpected {type(exc).__name__}: {exc}"))
                ok = False
            else:
                events.extend(self._recovered())
                events.extend(self._observe(inputs))
                ok = True
            events = [*self._outbox, *events]
            self._outbox.clear()
            sinks = dict(self._sinks)
        self._deliver(events, sinks)
        return ok

    def _release_idle_relays(self) -> None:
        """Switch off barrier relays that no pulse of ours holds.

        A predecessor that died mid-pulse (crash, power cut) may have left a relay
        energised, and a held relay swallows the next pulse.
        """
        for output in (Output.OPEN, Output.CLOSE):
            if output not in self._pulses:
                self.transport.write(output, False)

    def _release_due_pulses(self) -> None:
        now = self.clock()
        for output, due in list(self._pulses.items()):
            if now >= due:
                self.transport.write(output, False)
                del self._pulses[output]

    def _observe(self, inputs: Inputs) -> list[tuple[str, DeviceEvent]]:
        now = self.clock()
        changes: list[LoopChanged] = []
        for loop, raw in ((Loop.ARMING, inputs.arming), (Loop.SAFETY, inputs.safety)):
            debouncer = self._debouncers[loop]
            if debouncer.update(raw, now):
                logger.info("loop_changed", module=self.name, loop=loop.value, occupied=raw)
                changes.append(LoopChanged(loop, raw, now, debouncer.since))
        # A vehicle driving on leaves the arming loop as it covers the safety loop.
        # Changes confirmed together are reported occupied first, so that the lane
        # never sees it off both loops, as if it had backed out.
        changes.sort(key=lambda change: not change.occupied)
        events: list[tuple[str, DeviceEvent]] = [("loops", change) for change in changes]
        events.extend(("barrier", e) for e in self._tracker.update(inputs, now))
        if inputs.help and self._help_held is False:
            logger.info("help_pressed", module=self.name)
            events.append(("loops", HelpPressed(now)))
        self._help_held = inputs.help
        return events

    def _lost(self, reason: str) -> list[tuple[str, DeviceEvent]]:
        """Close the connection after a fault; report the fault once per outage."""
        self._disconnect()
        self._tracker.forget()
        if reason == self._fault:
            logger.debug("io_still_faulty", module=self.name, reason=reason)
            return []
        self._fault = reason
        logger.warning("io_fault", module=self.name, via=self.transport.label, reason=reason)
        return [("*", DeviceFault(self.name, reason, self.clock()))]

    def _recovered(self) -> list[tuple[str, DeviceEvent]]:
        if self._fault is None:
            return []
        self._fault = None
        logger.info("io_recovered", module=self.name, via=self.transport.label)
        return [("*", DeviceRecovered(self.name, self.clock()))]

    def _disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self.transport.close()

    @staticmethod
    def _deliver(events: list[tuple[str, DeviceEvent]], sinks: dict[str, EventSink]) -> None:
        """Hand each event to its driver's sink; module-wide events once to each distinct sink."""
        for device, event in events:
            if device == "*":
                targets = list({id(s): s for s in sinks.values()}.values())
            else:
                targets = [sinks[device]] if device in sinks else []
            for sink in targets:
                try:
                    sink(event)
                except Exception:
                    # The daemon's sink failing must not stop the device being watched.
                    logger.exception("event_sink_failed", event_type=type(event).__name__)


class _ModuleDevice:
    """Lifecycle of a driver served by an :class:`IOModule`."""

    def __init__(self, module: IOModule, name: str) -> None:
        self.module = module
        self.name = name

    def start(self, sink: EventSink) -> None:
        self.module.attach(self.name, sink)

    def stop(self) -> None:
        self.module.detach(self.name)


class ModuleLoops(_ModuleDevice):
    def __init__(self, module: IOModule) -> None:
        super().__init__(module, "loops")

    def state(self) -> LoopState:
        return self.module.loop_state()


class ModuleBarrier(_ModuleDevice):
    """A barrier moved by pulsing the open and close relays; the limit switches tell where it is."""

    def __init__(self, module: IOModule) -> None:
        super().__init__(module, "barrier")
        self._locked = False

    def open(self) -> CommandResult:
        return self.module.pulse(Output.OPEN, Position.UP)

    def close(self) -> CommandResult:
        if self._locked:
            return CommandResult.failure("barrier is locked open; unlock it first")
        return self.module.pulse(Output.CLOSE, Position.DOWN)

    def lock_open(self) -> CommandResult:
        result = self.open()
        if result.ok:
            self._locked = True
        return result

    def unlock(self) -> CommandResult:
        self._locked = False
        return CommandResult.success()

    def position(self) -> Position:
        return self.module.position()


class ModuleLight(_ModuleDevice):
    def __init__(self, module: IOModule) -> None:
        super().__init__(module, "lane_light")

    def set_green(self, green: bool) -> CommandResult:
        return self.module.set_light(green)
