"""Every implementation of each interface, set up with a world the test can act on.

A rig bundles a driver with the hands of the test: put a vehicle on a loop,
jam the arm, cut the link to the device and restore it. The contract suites
run the same tests on every rig of their interface: the in-memory fake, the
Modbus driver talking to ``lanewarden sim io``'s simulator over TCP on
loopback, the GPIO driver on the RPi.GPIO stand-in wired to the same
simulated world, and the serial barrier driver talking to ``lanewarden sim
barrier``'s controller over a pty.

To add an implementation, write a context manager yielding the rig and add it
to the interface's registry (``LOOPS_RIGS``, ``BARRIER_RIGS``, ``LIGHT_RIGS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from gpio_standin import StandInGPIO

from drivers.config import GpioIO, GpioPins, ModbusTcpIO, SerialBarrier
from drivers.digital_io import IOModule, ModuleTiming
from drivers.fakes import FakeBarrier, FakeLaneLight, FakeLoops
from drivers.gpio import GpioTransport
from drivers.interfaces import Barrier, LaneLight, Loop, LoopInputs
from drivers.modbus_io import tcp_transport
from drivers.serial_barrier import SerialBarrierDriver
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator
from simulators.serial_barrier import BarrierController, BarrierSimulator
from simulators.serial_link import PtyLink

# Short travel so the suites stay fast; the travel timeout leaves a wide margin.
RISE_S = FALL_S = 0.15
TIMING = ModuleTiming(
    debounce_s=0.03,
    poll_s=0.01,
    travel_timeout_s=3.0,
    pulse_s=0.05,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
)


@dataclass
class World:
    """What a test can do to the device's surroundings."""

    put: Callable[[Loop, bool], None]
    jam: Callable[[], None]
    cut: Callable[[], None]
    restore: Callable[[], None]
    light_green: Callable[[], bool | None]


@dataclass
class LoopsRig:
    loops: LoopInputs
    world: World


@dataclass
class BarrierRig:
    barrier: Barrier
    world: World


@dataclass
class LightRig:
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
    loops, barrier, light = FakeLoops(), FakeBarrier(), FakeLaneLight()
    yield loops, barrier, light, _fake_world(loops, barrier, light)


# -- the Modbus driver against the simulator over TCP --------------------------------


@contextmanager
def modbus_parts() -> Iterator[tuple[IOModule, World]]:
    world = BarrierWorld(rise_s=RISE_S, fall_s=FALL_S)
    faults = Faults()
    simulator = IOModuleSimulator(world, faults, port=0, tick_s=0.01)
    simulator.start()
    try:
        config = ModbusTcpIO(
            type="modbus_tcp", host="127.0.0.1", port=simulator.port, timeout_ms=100
        )
        module = IOModule(tcp_transport(config), TIMING)

        def cut() -> None:
            faults.silent = True

        def restore() -> None:
            faults.silent = False

        yield (
            module,
            World(
                put=lambda loop, on: world.set_loops(**{loop.value: on}),
                jam=lambda: world.set_broken(True),
                cut=cut,
                restore=restore,
                light_green=lambda: bool(world.state()["relays"]["lane_light"]),
            ),
        )
    finally:
        simulator.stop()


# -- the GPIO driver on the RPi.GPIO stand-in, wired to the simulated world ----------

PINS = GpioPins(
    arming_loop=5,
    safety_loop=6,
    barrier_up=13,
    barrier_down=19,
    barrier_fault=26,
    open_relay=17,
    close_relay=27,
    lane_light=22,
)


def wire_gpio(gpio: StandInGPIO, world: BarrierWorld) -> Callable[[], None]:
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


@contextmanager
def gpio_parts() -> Iterator[tuple[IOModule, World]]:
    world = BarrierWorld(rise_s=RISE_S, fall_s=FALL_S)
    gpio = StandInGPIO()
    sync = wire_gpio(gpio, world)
    module = IOModule(GpioTransport(GpioIO(type="gpio", pins=PINS), gpio), TIMING, name="gpio")

    def put(loop: Loop, on: bool) -> None:
        world.set_loops(**{loop.value: on})
        sync()

    def cut() -> None:
        gpio.fail_reads = "GPIO read failed (board gone)"

    def restore() -> None:
        gpio.fail_reads = None

    yield (
        module,
        World(
            put=put,
            jam=lambda: world.set_broken(True),
            cut=cut,
            restore=restore,
            light_green=lambda: gpio.levels.get(PINS.lane_light) == gpio.HIGH,
        ),
    )


# -- the registries ---------------------------------------------------------------


@contextmanager
def fake_loops() -> Iterator[LoopsRig]:
    with fake_parts() as (loops, _b, _l, world):
        yield LoopsRig(loops, world)


@contextmanager
def modbus_loops() -> Iterator[LoopsRig]:
    with modbus_parts() as (module, world):
        yield LoopsRig(module.loops, world)


@contextmanager
def gpio_loops() -> Iterator[LoopsRig]:
    with gpio_parts() as (module, world):
        yield LoopsRig(module.loops, world)


@contextmanager
def fake_barrier() -> Iterator[BarrierRig]:
    with fake_parts() as (_lo, barrier, _l, world):
        yield BarrierRig(barrier, world)


@contextmanager
def modbus_barrier() -> Iterator[BarrierRig]:
    with modbus_parts() as (module, world):
        yield BarrierRig(module.barrier, world)


@contextmanager
def gpio_barrier() -> Iterator[BarrierRig]:
    with gpio_parts() as (module, world):
        yield BarrierRig(module.barrier, world)


@contextmanager
def serial_barrier() -> Iterator[BarrierRig]:
    """The serial barrier driver and the simulated controller on the two ends of a pty."""
    link = PtyLink()
    simulator = BarrierSimulator(link, BarrierController("01", travel_s=RISE_S), Faults())
    simulator.start()
    routes = simulator.routes()

    def no_loops(loop: Loop, on: bool) -> None:
        raise AssertionError("a serial barrier controller has no loops")

    try:
        config = SerialBarrier(type="serial", port=link.path, poll_ms=20, reconnect_ms=50)
        yield BarrierRig(
            SerialBarrierDriver(config),
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


@contextmanager
def fake_light() -> Iterator[LightRig]:
    with fake_parts() as (_lo, _b, light, world):
        yield LightRig(light, world)


@contextmanager
def modbus_light() -> Iterator[LightRig]:
    with modbus_parts() as (module, world):
        yield LightRig(module.light, world)


@contextmanager
def gpio_light() -> Iterator[LightRig]:
    with gpio_parts() as (module, world):
        yield LightRig(module.light, world)


LOOPS_RIGS: dict[str, Callable[[], AbstractContextManager[LoopsRig]]] = {
    "fake": fake_loops,
    "modbus_tcp": modbus_loops,
    "gpio": gpio_loops,
}
BARRIER_RIGS: dict[str, Callable[[], AbstractContextManager[BarrierRig]]] = {
    "fake": fake_barrier,
    "modbus_tcp": modbus_barrier,
    "gpio": gpio_barrier,
    "serial": serial_barrier,
}
LIGHT_RIGS: dict[str, Callable[[], AbstractContextManager[LightRig]]] = {
    "fake": fake_light,
    "modbus_tcp": modbus_light,
    "gpio": gpio_light,
}
