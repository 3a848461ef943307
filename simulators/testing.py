"""Every implementation of each driver interface, set up with a world the test can act on.

Public API (as gpiozero ships its mock pin factory): the contract suites in
``tests/drivers/contract`` run on these rigs, and a technician can run a driver against
its simulator the same way to see it behave before the hardware is there.

A rig bundles a driver with the hands of the test: put a vehicle on a loop,
jam the arm, cut the link to the device and restore it. The contract suites
run the same tests on every rig of their interface: the in-memory fake, and
every driver of the factory's registries (``drivers.factory``), built by the
factory from a config section the way the lane daemon builds it: the Modbus
driver talking to ``lanewarden sim io``'s simulator over TCP on loopback, the
``gpio_mock`` driver with its in-memory GPIO wired to the same simulated
world, and the serial barrier driver talking to ``lanewarden sim barrier``'s
controller over a pty.

A driver added to a registry needs a bench here (``IO_BENCHES``,
``BARRIER_BENCHES``), keyed by its config class, or a reason in ``UNRIGGED``;
``tests/contract/test_rigs.py`` fails until it has one. The loops, barrier and light rigs of each
I/O module are made from its one bench.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from contracts.schema import ConfigModel
from drivers.config import (
    DeviceSections,
    GpioIO,
    IOBarrier,
    IOLoops,
    MockGpioIO,
    ModbusRtuIO,
    ModbusTcpIO,
    OpenCVCamera,
    SerialBarrier,
    type_key,
)
from drivers.digital_io import IOModule
from drivers.factory import DriverParts, build_barrier, build_light, build_loops
from drivers.fakes import FakeBarrier, FakeLaneLight, FakeLoops
from drivers.gpio import GpioTransport
from drivers.interfaces import Barrier, LaneLight, Loop, LoopInputs
from drivers.mock_gpio import MockGPIO
from drivers.testing import PINS as LANE_PINS
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator
from simulators.serial_barrier import BarrierController, BarrierSimulator
from simulators.serial_link import PtyLink

# Short travel so the suites stay fast; the travel timeout leaves a wide margin.
RISE_S = FALL_S = 0.15
BARRIER = IOBarrier(type="io", travel_timeout_ms=3000, pulse_ms=50)
FAST = {"debounce_ms": 30, "poll_ms": 10}
# The lane file does not set the reconnect back-off; a short one keeps the fault tests fast.
BACKOFF = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2}


@dataclass
class World:
    """What a test can do to the device's surroundings."""

    put: Callable[[Loop, bool], None]
    jam: Callable[[], object]
    """Break or block the barrier's arm."""
    cut: Callable[[], object]
    """Cut the link to the device (it stops answering)."""
    restore: Callable[[], object]
    light_green: Callable[[], bool | None]
    """Whether the lane light shows green; None where the device has no light."""


@dataclass
class LoopsRig:
    """A loops driver and the world its loops sense."""

    loops: LoopInputs
    world: World


@dataclass
class BarrierRig:
    """A barrier driver and the world its arm moves in."""

    barrier: Barrier
    world: World


@dataclass
class LightRig:
    """A lane light driver and the world that shows its colour."""

    light: LaneLight
    world: World


# -- the in-memory fakes ----------------------------------------------------------


def _fake_world(loops: FakeLoops, barrier: FakeBarrier, light: FakeLaneLight) -> World:
    devices = (loops, barrier, light)

    def cut() -> None:
        for device in devices:
            device.fault("no answer")

    def restore() -> None:
        for device in devices:
            device.recover()

    return World(
        put=lambda loop, on: loops.set(**{loop.value: on}),
        jam=barrier.jam,
        cut=cut,
        restore=restore,
        light_green=lambda: light.green,
    )


@contextmanager
def fake_parts() -> Iterator[tuple[FakeLoops, FakeBarrier, FakeLaneLight, World]]:
    """The in-memory loops, barrier and light, and the world that acts on them."""
    loops, barrier, light = FakeLoops(), FakeBarrier(), FakeLaneLight()
    yield loops, barrier, light, _fake_world(loops, barrier, light)


# -- the benches of the I/O module drivers ----------------------------------------
# A bench yields the module's config section and a function that wires the module
# the factory built from it to the simulated world.

Wire = Callable[[IOModule], World]


@contextmanager
def modbus_tcp_bench() -> Iterator[tuple[ModbusTcpIO, Wire]]:
    """The Modbus TCP driver against the I/O module simulator on loopback."""
    world = BarrierWorld(rise_s=RISE_S, fall_s=FALL_S)
    faults = Faults()
    simulator = IOModuleSimulator(world, faults, port=0, tick_s=0.01)
    simulator.start()
    try:
        config = ModbusTcpIO(
            type="modbus_tcp", host="127.0.0.1", port=simulator.port, timeout_ms=100, **FAST
        )

        def cut() -> None:
            faults.silent = True

        def restore() -> None:
            faults.silent = False

        def wire(_module: IOModule) -> World:
            return World(
                put=lambda loop, on: world.set_loops(**{loop.value: on}),
                jam=lambda: world.set_broken(True),
                cut=cut,
                restore=restore,
                light_green=lambda: bool(world.state()["relays"]["lane_light"]),
            )

        yield config, wire
    finally:
        simulator.stop()


PINS = LANE_PINS.model_copy(update={"barrier_fault": 26})
"""The lane's GPIO pins with the barrier's fault input wired too."""


def wire_gpio(gpio: MockGPIO, world: BarrierWorld) -> Callable[[], None]:
    """Relay pins drive the world's coils; input pins follow the world (active low)."""
    coils = {
        PINS.open_relay: world.map.open_relay,
        PINS.close_relay: world.map.close_relay,
        PINS.lane_light: world.map.lane_light,
    }
    inputs = {
        PINS.arming_loop: "arming",
        PINS.safety_loop: "safety",
        PINS.barrier_up: "up_limit",
        PINS.barrier_down: "down_limit",
        PINS.barrier_fault: "fault",
    }

    def on_output(pin: int, level: int) -> None:
        if pin in coils:
            world.write_coils(coils[pin], [level == gpio.HIGH])

    def sync() -> None:
        state = world.state()["inputs"]
        for pin, name in inputs.items():
            if pin in gpio.directions:
                gpio.drive(pin, gpio.LOW if state[name] else gpio.HIGH)

    gpio.on_output = on_output
    gpio.sync = sync
    return sync


def mock_gpio_of(module: IOModule) -> MockGPIO:
    """The in-memory GPIO under a ``gpio_mock`` module the factory built."""
    transport = module.transport
    if not isinstance(transport, GpioTransport) or not isinstance(transport.gpio, MockGPIO):
        raise TypeError(f"not a gpio_mock module: {transport.label}")
    return transport.gpio


@contextmanager
def gpio_mock_bench() -> Iterator[tuple[MockGpioIO, Wire]]:
    """The ``gpio_mock`` driver, its in-memory GPIO wired to the simulated world."""
    world = BarrierWorld(rise_s=RISE_S, fall_s=FALL_S)
    config = MockGpioIO(type="gpio_mock", pins=PINS, **FAST)

    def wire(module: IOModule) -> World:
        gpio = mock_gpio_of(module)
        sync = wire_gpio(gpio, world)

        def put(loop: Loop, on: bool) -> None:
            world.set_loops(**{loop.value: on})
            sync()

        def cut() -> None:
            gpio.fail_reads = "GPIO read failed (board gone)"

        def restore() -> None:
            gpio.fail_reads = None

        return World(
            put=put,
            jam=lambda: world.set_broken(True),
            cut=cut,
            restore=restore,
            light_green=lambda: gpio.levels.get(PINS.lane_light) == gpio.HIGH,
        )

    yield config, wire


IO_BENCHES: dict[type[ConfigModel], Callable[[], AbstractContextManager[tuple[Any, Wire]]]] = {
    ModbusTcpIO: modbus_tcp_bench,
    MockGpioIO: gpio_mock_bench,
}


@dataclass
class ModuleRig:
    """The factory's parts for a lane whose loops, barrier and light are on one I/O module."""

    parts: DriverParts
    world: World


@contextmanager
def module_rig(model: type[ConfigModel]) -> Iterator[ModuleRig]:
    """The bench of the I/O module ``model``, with the factory's parts built on it."""
    with IO_BENCHES[model]() as (config, wire):
        devices = DeviceSections(
            loops=IOLoops(type="io"),
            barrier=BARRIER,
            camera=OpenCVCamera(type="opencv", source="0"),
            io=config,
        )
        parts = DriverParts(devices)
        module = parts.io_module()
        module.timing = replace(module.timing, **BACKOFF)
        yield ModuleRig(parts, wire(module))


# -- the benches of the barrier drivers that are not on the I/O module --------------


@contextmanager
def serial_barrier_bench() -> Iterator[BarrierRig]:
    """The serial barrier driver and the simulated controller on the two ends of a pty."""
    link = PtyLink()
    simulator = BarrierSimulator(link, BarrierController("01", travel_s=RISE_S), Faults())
    simulator.start()
    routes = simulator.routes()

    def no_loops(loop: Loop, on: bool) -> None:
        raise AssertionError("a serial barrier controller has no loops")

    try:
        config = SerialBarrier(type="serial", port=link.path, poll_ms=20, reconnect_ms=50)
        devices = DeviceSections(
            loops=IOLoops(type="io"), barrier=config, camera=OpenCVCamera(type="opencv", source="0")
        )
        yield BarrierRig(
            build_barrier(DriverParts(devices)),
            World(
                put=no_loops,
                jam=lambda: routes["POST /arm"]({"broken": True}),
                cut=lambda: routes["POST /faults"]({"silent": True}),
                restore=lambda: routes["POST /faults"]({"silent": False}),
                light_green=lambda: None,
            ),
        )
    finally:
        simulator.stop()
        link.close()


BARRIER_BENCHES: dict[type[ConfigModel], Callable[[], AbstractContextManager[BarrierRig]]] = {
    SerialBarrier: serial_barrier_bench,
}

# Registered drivers the suites cannot run here, and why.
UNRIGGED: dict[type[ConfigModel], str] = {
    GpioIO: "needs RPi.GPIO on a Raspberry Pi; its transport runs in the suites as gpio_mock",
    ModbusRtuIO: "needs a serial Modbus slave; its framing is tested in test_modbus_rtu.py",
}


# -- the registries ---------------------------------------------------------------


@contextmanager
def fake_loops() -> Iterator[LoopsRig]:
    with fake_parts() as (loops, _b, _l, world):
        yield LoopsRig(loops, world)


@contextmanager
def fake_barrier() -> Iterator[BarrierRig]:
    with fake_parts() as (_lo, barrier, _l, world):
        yield BarrierRig(barrier, world)


@contextmanager
def fake_light() -> Iterator[LightRig]:
    with fake_parts() as (_lo, _b, light, world):
        yield LightRig(light, world)


def _module_loops(model: type[ConfigModel]) -> Callable[[], AbstractContextManager[LoopsRig]]:
    @contextmanager
    def rig() -> Iterator[LoopsRig]:
        with module_rig(model) as m:
            yield LoopsRig(build_loops(m.parts), m.world)

    return rig


def _module_barrier(model: type[ConfigModel]) -> Callable[[], AbstractContextManager[BarrierRig]]:
    @contextmanager
    def rig() -> Iterator[BarrierRig]:
        with module_rig(model) as m:
            yield BarrierRig(build_barrier(m.parts), m.world)

    return rig


def _module_light(model: type[ConfigModel]) -> Callable[[], AbstractContextManager[LightRig]]:
    @contextmanager
    def rig() -> Iterator[LightRig]:
        with module_rig(model) as m:
            light = build_light(m.parts)
            if light is None:
                raise AssertionError(f"{type_key(model)}: the factory built no lane light")
            yield LightRig(light, m.world)

    return rig


LOOPS_RIGS: dict[str, Callable[[], AbstractContextManager[LoopsRig]]] = {
    "fake": fake_loops,
    **{type_key(model): _module_loops(model) for model in IO_BENCHES},
}
BARRIER_RIGS: dict[str, Callable[[], AbstractContextManager[BarrierRig]]] = {
    "fake": fake_barrier,
    **{type_key(model): _module_barrier(model) for model in IO_BENCHES},
    **{type_key(model): bench for model, bench in BARRIER_BENCHES.items()},
}
LIGHT_RIGS: dict[str, Callable[[], AbstractContextManager[LightRig]]] = {
    "fake": fake_light,
    **{type_key(model): _module_light(model) for model in IO_BENCHES},
}


# -- a simulator command's first lines ---------------------------------------------


def addresses(proc: subprocess.Popen[str], *whats: str) -> list[str]:
    """The addresses on the first lines of ``proc``'s output, one ``what: address`` line each.

    A script reads a ``lanewarden sim ...`` command's addresses this way. Start
    ``proc`` with ``stderr=subprocess.STDOUT``: a log line before the addresses
    then fails here. Each address is its line's last word, and clean.
    """
    if proc.stdout is None:
        raise ValueError("start the simulator with stdout=subprocess.PIPE")
    found = []
    for what in whats:
        line = proc.stdout.readline().rstrip("\n")
        if not line.startswith(f"{what}: "):
            raise AssertionError(f"expected {what!r}: ..., got {line!r}")
        address = line.split()[-1]
        if address != line.removeprefix(f"{what}: ") or any(ch in address for ch in "\"',{}"):
            raise AssertionError(f"not one clean address: {line!r}")
        found.append(address)
    return found
