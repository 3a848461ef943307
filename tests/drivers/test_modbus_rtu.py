"""The Modbus driver over RTU: the simulator and the driver on the two ends of a socat pty pair."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs import program

from drivers.config import ModbusRtuIO
from drivers.digital_io import IOModule, ModuleTiming
from drivers.interfaces import BarrierMoved, DeviceFault, Loop, LoopChanged, Position
from drivers.modbus_io import rtu_transport
from drivers.testing import Events
from plumbing.testing import wait_until
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator

TIMING = ModuleTiming(
    debounce_s=0.0, poll_s=0.02, travel_timeout_s=3.0, pulse_s=0.05, backoff_max_s=0.2
)


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals, as a USB RS-485 adapter pair would be."""
    socat = program("socat")
    a, b = tmp_path / "module", tmp_path / "lane"
    proc = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: a.exists() and b.exists(), "socat created the pty pair")
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def rtu_sim(pty_pair: tuple[str, str]) -> Iterator[IOModuleSimulator]:
    sim = IOModuleSimulator(
        BarrierWorld(rise_s=0.1, fall_s=0.1), Faults(), port=0, rtu_port=pty_pair[0], tick_s=0.01
    )
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def rtu_module(port: str) -> IOModule:
    config = ModbusRtuIO(type="modbus_rtu", port=port, baudrate=9600, timeout_ms=200)
    return IOModule(rtu_transport(config), TIMING)


class TestModbusRtu:
    """Loops and barrier work over RTU framing; a silent line is a fault."""

    def test_loops_and_barrier(self, rtu_sim: IOModuleSimulator, pty_pair: tuple[str, str]) -> None:
        module = rtu_module(pty_pair[1])
        events = Events()
        module.loops.start(events)
        module.barrier.start(events)
        try:
            rtu_sim.world.set_loops(arming=True)
            events.wait_for(
                lambda e: isinstance(e, LoopChanged) and e.loop is Loop.ARMING, "arming loop"
            )
            wait_until(lambda: module.barrier.position() is Position.DOWN, "barrier read down")
            assert module.barrier.open().ok
            events.wait_for(lambda e: e == BarrierMoved(Position.UP, e.at), "barrier up")
        finally:
            module.barrier.stop()
            module.loops.stop()

    def test_silent_line_is_a_fault(
        self, rtu_sim: IOModuleSimulator, pty_pair: tuple[str, str]
    ) -> None:
        rtu_sim.faults.silent = True
        module = rtu_module(pty_pair[1])
        events = Events()
        module.loops.start(events)
        try:
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "fault")
        finally:
            module.loops.stop()
        assert isinstance(fault, DeviceFault)
        assert "reading discrete inputs 0-4" in fault.reason

    def test_missing_serial_port(self, tmp_path: Path) -> None:
        module = rtu_module(str(tmp_path / "ttyUSB9"))
        events = Events()
        module.loops.start(events)
        try:
            fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "fault")
        finally:
            module.loops.stop()
        assert isinstance(fault, DeviceFault)
        assert f"cannot connect to modbus rtu {tmp_path / 'ttyUSB9'} unit 1" in fault.reason
