"""The Modbus I/O module driver: debounce, barrier tracking, and faults against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog

from drivers.config import ModbusMap, ModbusTcpIO
from drivers.digital_io import IOFaultError, IOModule, ModuleTiming
from drivers.interfaces import (
    BarrierMoved,
    BarrierReported,
    BarrierSignal,
    DeviceFault,
    DeviceRecovered,
    HelpPressed,
    Loop,
    LoopChanged,
    Position,
)
from drivers.io_logic import BarrierTracker, Debouncer, Inputs
from drivers.modbus_io import modbus_module, tcp_transport
from drivers.testing import Events
from plumbing.testing import wait_until
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator

TIMING = ModuleTiming(
    debounce_s=0.0,
    poll_s=0.01,
    travel_timeout_s=3.0,
    pulse_s=0.05,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
)


def inputs(*, up: bool = False, down: bool = False, fault: bool = False) -> Inputs:
    return Inputs(arming=False, safety=False, up=up, down=down, fault=fault)


@contextmanager
def simulator(faults: Faults | None = None, port: int = 0) -> Iterator[IOModuleSimulator]:
    sim = IOModuleSimulator(
        BarrierWorld(rise_s=0.1, fall_s=0.1), faults or Faults(), port=port, tick_s=0.01
    )
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def module_for(port: int, addresses: ModbusMap | None = None, timeout_ms: int = 100) -> IOModule:
    config = ModbusTcpIO(
        type="modbus_tcp",
        host="127.0.0.1",
        port=port,
        timeout_ms=timeout_ms,
        map=addresses or ModbusMap(),
    )
    return IOModule(tcp_transport(config), TIMING)


@contextmanager
def running(module: IOModule) -> Iterator[Events]:
    events = Events()
    module.loops.start(events)
    module.barrier.start(events)
    try:
        yield events
    finally:
        module.barrier.stop()
        module.loops.stop()


def is_fault(event: object) -> bool:
    return isinstance(event, DeviceFault)


class TestDebouncer:
    """A change counts only once the raw input has been stable for the hold time."""

    def test_short_bounce_is_ignored(self) -> None:
        d = Debouncer(0.1)
        assert not d.update(True, 0.00)
        assert not d.update(False, 0.05)
        assert not d.update(False, 0.30)
        assert d.state is False

    def test_stable_change_counts_once(self) -> None:
        d = Debouncer(0.1)
        assert not d.update(True, 0.00)
        assert not d.update(True, 0.09)
        assert d.update(True, 0.10)
        assert not d.update(True, 0.50)
        assert d.state is True

    def test_confirmed_change_remembers_when_it_began(self) -> None:
        d = Debouncer(0.1)
        d.update(True, 1.0)
        d.update(False, 1.02)  # a bounce restarts the window
        d.update(True, 1.05)
        assert d.update(True, 1.16)
        assert d.since == pytest.approx(1.05)

    def test_due_tells_when_a_change_would_be_confirmed(self) -> None:
        d = Debouncer(0.1)
        assert d.due() is None
        d.update(True, 1.0)
        assert d.due() == pytest.approx(1.1)

    def test_zero_hold_is_immediate(self) -> None:
        assert Debouncer(0.0).update(True, 0.0)


class TestBarrierTracker:
    """Position comes from the limit switches; a late arm or a fault input is a fault."""

    def test_position_follows_limits(self) -> None:
        t = BarrierTracker(5.0)
        assert t.update(inputs(down=True), 0.0) == [BarrierMoved(Position.DOWN, 0.0)]
        t.command(Position.UP, 1.0)
        assert t.update(inputs(), 1.1) == [BarrierMoved(Position.MOVING, 1.1)]
        assert t.update(inputs(up=True), 2.0) == [BarrierMoved(Position.UP, 2.0)]

    def test_travel_timeout_is_a_fault_until_a_limit_is_reached(self) -> None:
        t = BarrierTracker(5.0)
        t.update(inputs(down=True), 0.0)
        t.command(Position.UP, 1.0)
        t.update(inputs(), 1.5)
        events = t.update(inputs(), 6.0)
        assert events == [
            BarrierMoved(Position.FAULT, 6.0),
            DeviceFault(
                "barrier", "travel timeout: the arm did not reach the up limit within 5.0 s", 6.0
            ),
        ]
        assert t.update(inputs(), 7.0) == []
        assert t.update(inputs(up=True), 8.0) == [
            BarrierMoved(Position.UP, 8.0),
            DeviceRecovered("barrier", 8.0),
        ]

    def test_fault_input_and_both_limits_are_faults(self) -> None:
        t = BarrierTracker(5.0)
        fault = t.update(inputs(down=True, fault=True), 0.0)
        assert DeviceFault("barrier", "barrier fault input is on", 0.0) in fault
        t2 = BarrierTracker(5.0)
        both = t2.update(inputs(up=True, down=True), 0.0)
        assert DeviceFault("barrier", "both limit switches are on", 0.0) in both
        assert t2.position is Position.FAULT

    def test_reversal_while_closing_is_an_obstacle(self) -> None:
        t = BarrierTracker(5.0)
        t.update(inputs(up=True), 0.0)
        t.command(Position.DOWN, 1.0)
        t.update(inputs(), 1.1)
        events = t.update(inputs(up=True), 1.5)
        assert (
            BarrierReported(
                BarrierSignal.OBSTACLE, 1.5, "arm reversed to the up limit while closing"
            )
            in events
        )
        assert t.update(inputs(up=True), 9.0) == []  # no travel timeout after a reversal


class TestModbusDriver:
    """Against the simulator over TCP: inputs, relays, reversal on the safety loop."""

    def test_pulse_releases_the_relay(self) -> None:
        with simulator() as sim, running(module := module_for(sim.port)) as events:
            wait_until(lambda: module.barrier.position() is Position.DOWN, "barrier read down")
            assert module.barrier.open().ok
            assert sim.world.state()["relays"]["open_relay"] is True
            events.wait_for(lambda e: e == BarrierMoved(Position.UP, e.at), "barrier up")
            wait_until(lambda: sim.world.state()["relays"]["open_relay"] is False, "relay released")

    def test_relay_left_energised_is_released_on_connect(self) -> None:
        with simulator() as sim:
            sim.world.write_coils(0, [True])  # a crashed daemon left the open relay on
            with running(module_for(sim.port)):
                wait_until(lambda: sim.world.state()["relays"]["open_relay"] is False, "released")

    def test_safety_loop_reverses_a_closing_arm(self) -> None:
        with simulator() as sim, running(module := module_for(sim.port)) as events:
            wait_until(lambda: module.barrier.position() is Position.DOWN, "barrier read down")
            module.barrier.open()
            events.wait_for(lambda e: e == BarrierMoved(Position.UP, e.at), "barrier up")
            sim.world.rise_s = sim.world.fall_s = 2.0  # slow enough to catch it moving
            events.clear()
            module.barrier.close()
            events.wait_for(lambda e: e == BarrierMoved(Position.MOVING, e.at), "arm falling")
            sim.world.set_loops(safety=True)
            events.wait_for(lambda e: isinstance(e, BarrierReported), "obstacle report")
            wait_until(lambda: module.barrier.position() is Position.UP, "arm back up")

    def test_changes_seen_together_report_the_occupied_loop_first(self) -> None:
        """A car driving on covers the safety loop as it leaves the arming loop: the
        lane must never see it off both loops, as if it had backed out."""
        with simulator() as sim, running(module_for(sim.port)) as events:
            sim.world.set_loops(arming=True)
            events.wait_for(lambda e: isinstance(e, LoopChanged), "arming on")
            events.clear()
            sim.world.set_loops(arming=False, safety=True)
            events.wait_for(lambda e: isinstance(e, LoopChanged) and not e.occupied, "arming off")
            changes = [(e.loop, e.occupied) for e in events.all if isinstance(e, LoopChanged)]
            assert changes == [(Loop.SAFETY, True), (Loop.ARMING, False)]

    def test_map_is_configurable(self) -> None:
        swapped = ModbusMap(arming_loop=1, safety_loop=0)
        with simulator() as sim, running(module_for(sim.port, swapped)) as events:
            sim.world.set_loops(safety=True)
            event = events.wait_for(lambda e: isinstance(e, LoopChanged), "loop change")
            assert isinstance(event, LoopChanged)
            assert (event.loop, event.occupied) == (Loop.ARMING, True)
            # Debounced: confirmed no earlier than the raw change was first seen.
            assert event.since is not None
            assert event.since <= event.at


class ScriptedTransport:
    """A transport whose reads return the queued readings, the last one from then on."""

    label = "scripted"

    def __init__(self, helps: list[bool]) -> None:
        self.readings = [Inputs(False, False, False, True, False, help=h) for h in helps]

    def open(self, wake: object) -> None:
        return None

    def read(self) -> Inputs:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def write(self, output: object, on: bool) -> None:
        return None

    def close(self) -> None:
        return None


def presses(events: Events) -> int:
    return sum(isinstance(e, HelpPressed) for e in events.all)


class TestHelpButton:
    """A wired help button is reported once per press; one held at start is not a press."""

    def test_each_press_is_one_event(self) -> None:
        transport = ScriptedTransport([False, True, True, False, True, True])
        module = IOModule(transport, TIMING)
        with running(module) as events:
            wait_until(lambda: len(transport.readings) == 1, "every reading taken")
            wait_until(lambda: presses(events) == 2, "two presses")
        assert presses(events) == 2

    def test_held_at_start_is_not_a_press(self) -> None:
        transport = ScriptedTransport([True, True, False, True])
        module = IOModule(transport, TIMING)
        with running(module) as events:
            wait_until(lambda: len(transport.readings) == 1, "every reading taken")
            wait_until(lambda: presses(events) == 1, "the press after the release")
        assert presses(events) == 1

    def test_wired_on_the_module_map(self) -> None:
        wired = ModbusMap(help_button=5)
        with simulator() as sim, running(module := module_for(sim.port, wired)) as events:
            wait_until(lambda: module.barrier.position() is Position.DOWN, "first read")
            sim.world.set_help(True)
            events.wait_for(lambda e: isinstance(e, HelpPressed), "the press")


class TestModbusFaults:
    """Exception responses, closed sockets and silence become events and log lines."""

    def test_exception_response_names_the_code(self) -> None:
        beyond = ModbusMap(barrier_fault=40)  # the module serves inputs 0-15 only
        with (
            structlog.testing.capture_logs() as logs,
            simulator() as sim,
            running(module_for(sim.port, beyond)) as events,
        ):
            fault = events.wait_for(is_fault, "fault")
        assert isinstance(fault, DeviceFault)
        assert fault.device == "io"
        assert "Modbus exception response reading discrete inputs 0-40" in fault.reason
        assert "code 2 (ILLEGAL_ADDRESS)" in fault.reason
        assert any(line["event"] == "io_fault" and line["reason"] == fault.reason for line in logs)

    def test_nothing_listening(self) -> None:
        with simulator() as sim:
            port = sim.port
        with running(module_for(port)) as events:
            fault = events.wait_for(is_fault, "fault")
        assert isinstance(fault, DeviceFault)
        assert f"cannot connect to modbus tcp 127.0.0.1:{port}" in fault.reason

    def test_closed_socket_then_module_back(self) -> None:
        with simulator() as sim:
            port = sim.port
            module = module_for(port)
            with running(module) as events:
                wait_until(lambda: module.barrier.position() is Position.DOWN, "first read")
                sim.stop()
                events.wait_for(is_fault, "fault after the socket closed")
                assert module.barrier.position() is Position.UNKNOWN
                result = module.barrier.open()
                assert not result.ok
                assert "modbus tcp 127.0.0.1" in result.reason
                with simulator(port=port):
                    events.wait_for(lambda e: isinstance(e, DeviceRecovered), "recovery")
                    wait_until(lambda: module.barrier.position() is Position.DOWN, "position again")

    def test_silent_module(self) -> None:
        with (
            structlog.testing.capture_logs() as logs,
            simulator(Faults(silent=True)) as sim,
            running(module_for(sim.port)) as events,
        ):
            fault = events.wait_for(is_fault, "fault")
        assert isinstance(fault, DeviceFault)
        assert "no valid reply reading discrete inputs 0-4" in fault.reason
        assert [line["reason"] for line in logs if line["event"] == "io_fault"] == [fault.reason]

    def test_garbled_replies(self) -> None:
        with (
            simulator(Faults(garble_rate=1.0, seed=3)) as sim,
            running(module_for(sim.port)) as events,
        ):
            fault = events.wait_for(is_fault, "fault")
        assert isinstance(fault, DeviceFault)
        assert fault.reason

    def test_reply_later_than_the_timeout_is_a_fault(self) -> None:
        with (
            simulator(Faults(delay_ms=400)) as sim,
            running(module_for(sim.port, timeout_ms=100)) as events,
        ):
            fault = events.wait_for(is_fault, "fault")
        assert isinstance(fault, DeviceFault)
        assert "no valid reply reading discrete inputs 0-4" in fault.reason

    def test_reply_within_the_timeout_is_served(self) -> None:
        with (
            simulator(Faults(delay_ms=20)) as sim,
            running(module_for(sim.port, timeout_ms=500)) as events,
        ):
            sim.world.set_loops(arming=True)
            events.wait_for(lambda e: isinstance(e, LoopChanged), "loop change")
        assert not any(is_fault(e) for e in events.all)

    def test_one_fault_event_per_outage(self) -> None:
        faults = Faults()
        with simulator(faults) as sim, running(module := module_for(sim.port)) as events:
            wait_until(lambda: module.barrier.position() is Position.DOWN, "first read")
            faults.silent = True
            events.wait_for(is_fault, "fault")
            module.loops.state()  # the driver keeps answering while the module is silent
            faults.silent = False
            events.wait_for(lambda e: isinstance(e, DeviceRecovered), "recovery")
        io_faults = [e for e in events.all if isinstance(e, DeviceFault) and e.device == "io"]
        assert len(io_faults) == 1

    def test_light_is_restored_after_reconnect(self) -> None:
        with simulator() as sim:
            port = sim.port
            module = module_for(port)
            with running(module) as events:
                module.light.start(events)
                wait_until(lambda: module.light.set_green(True).ok, "light set")
                sim.stop()
                events.wait_for(is_fault, "fault")
                with simulator(port=port) as again:
                    assert again.world.state()["light"] == "red"
                    wait_until(lambda: again.world.state()["light"] == "green", "light again")
                module.light.stop()


class TestModbusBuilder:
    """modbus_module builds the module from the lane's config."""

    def test_tcp_module_reads_the_simulator(self) -> None:
        with simulator() as sim:
            config = ModbusTcpIO(type="modbus_tcp", host="127.0.0.1", port=sim.port, debounce_ms=0)
            module = modbus_module(config, travel_timeout_s=2.0, pulse_s=0.05)
            assert module.timing.travel_timeout_s == 2.0
            with running(module) as events:
                sim.world.set_loops(arming=True)
                events.wait_for(lambda e: isinstance(e, LoopChanged), "loop change")

    def test_outputs_follow_the_map(self) -> None:
        with simulator() as sim:
            module = module_for(sim.port, ModbusMap(lane_light=7))
            events = Events()
            module.light.start(events)
            try:
                wait_until(lambda: module.light.set_green(True).ok, "light set")
                assert sim.world.coil_bits()[7] is True
                assert sim.world.state()["light"] == "red"  # coil 2 untouched
            finally:
                module.light.stop()


class FlakyTransport:
    """A transport whose reads fail with whatever the test queues, then succeed."""

    label = "flaky"

    def __init__(self) -> None:
        self.failures: list[Exception] = []

    def open(self, wake: object) -> None:
        return None

    def read(self) -> Inputs:
        if self.failures:
            raise self.failures.pop(0)
        return inputs(down=True)

    def write(self, output: object, on: bool) -> None:
        return None

    def close(self) -> None:
        return None


class TestIOModuleRobustness:
    """Neither a library bug nor a failing sink stops the poll thread."""

    def test_unexpected_exception_is_a_fault_then_recovery(self) -> None:
        transport = FlakyTransport()
        transport.failures.append(KeyError("register"))
        module = IOModule(transport, TIMING)
        with running(module) as events:
            fault = events.wait_for(is_fault, "fault")
            events.wait_for(lambda e: isinstance(e, DeviceRecovered), "recovery")
        assert isinstance(fault, DeviceFault)
        assert fault.reason == "unexpected KeyError: 'register'"

    def test_failing_sink_does_not_stop_the_thread(self) -> None:
        transport = FlakyTransport()
        module = IOModule(transport, TIMING)
        delivered = Events()
        calls = []

        def sink(event: object) -> None:
            calls.append(event)
            if len(calls) == 1:
                raise RuntimeError("sink bug")
            delivered(event)  # type: ignore[arg-type]

        module.barrier.start(sink)
        try:
            wait_until(lambda: module.barrier.position() is Position.DOWN, "first read")
            transport.failures.append(IOFaultError("gone"))
            delivered.wait_for(is_fault, "fault after the sink failed once")
        finally:
            module.barrier.stop()


class TestLateStart:
    """A driver started while the module already knows a fault is told at once."""

    def test_barrier_started_after_the_loops_gets_the_arm_fault(self) -> None:
        with simulator() as sim:
            sim.world.set_broken(True)
            module = module_for(sim.port)
            module.loops.start(Events())
            try:
                wait_until(lambda: module.barrier.position() is Position.FAULT, "fault read")
                late = Events()
                module.barrier.start(late)
                assert late.all == [
                    DeviceFault("barrier", "barrier fault input is on", late.all[0].at)
                ]
            finally:
                module.barrier.stop()
                module.loops.stop()
