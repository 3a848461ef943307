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
The debounce and the barrier's position and travel are pure, in
:mod:`drivers.io_logic`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from drivers.interfaces import (
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
from drivers.io_logic import BarrierTracker, Debouncer, Inputs, Output
from plumbing import log

logger = log.get(__name__)

Clock = Callable[[], float]


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
