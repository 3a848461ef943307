"""A simulated Ethernet / RS-485 I/O module with a barrier and two loops wired to it.

It serves ARCHITECTURE.md's Modbus map over Modbus TCP (and RTU on a serial
port) with pymodbus' server, so the real driver, ``mbpoll`` or any Modbus
client can drive it. Behind the map sits a barrier with physics:

- the open and close relays act on their rising edge (a relay closing), like
  the pulse inputs of barrier controllers, so a pulse and a coil left on both
  work; the arm then travels for ``rise_s`` / ``fall_s`` between its limits;
- the limit switches follow the arm; while it travels neither is on;
- a closing arm stops and reverses when the safety loop is occupied, and a
  close command is refused while it is;
- a broken arm sets the fault input and no longer moves.

Technicians and traffic scenarios act on the world through the JSON control
endpoint (see :meth:`IOModuleSimulator.routes`): vehicles on loops, stuck
inputs, a broken arm, and the shared fault injection of
:mod:`simulators.faults` (delayed, dropped and garbled replies, silence; the
body of ``POST /faults`` is :mod:`simulators.fault_route`'s).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, cast

from drivers.config import ModbusMap
from plumbing import log
from plumbing.loop_thread import LoopThread
from simulators.control import Route
from simulators.fault_route import updated_faults
from simulators.faults import Faults
from simulators.route_fields import one_bool, only_keys, optional_bool

logger = log.get(__name__)

# Discrete inputs the control endpoint can force with POST /stuck, by name.
INPUT_NAMES = ("arming", "safety", "up_limit", "down_limit", "fault")
BITS = 16  # inputs and coils served: addresses 0-15
HELP_BUTTON = 5  # the simulated lane's help button, unless the map given says otherwise


class BarrierWorld:
    """The loops, the arm and the module's coils and inputs. Thread-safe."""

    def __init__(
        self,
        rise_s: float = 1.5,
        fall_s: float = 1.5,
        addresses: ModbusMap | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rise_s <= 0 or fall_s <= 0:
            raise ValueError(f"rise and fall times must be positive, got {rise_s} and {fall_s}")
        self.rise_s = rise_s
        self.fall_s = fall_s
        self.map = addresses or ModbusMap(help_button=HELP_BUTTON)
        self.clock = clock
        self._lock = threading.Lock()
        self.coils = [False] * BITS
        self.loops = {"arming": False, "safety": False}
        self.height = 0.0  # 0 = down, 1 = up
        self.motion = 0  # +1 rising, -1 falling, 0 still
        self.broken = False
        self.help = False  # the driver holds the help button
        self.stuck: dict[str, bool] = {}
        self._last_tick = clock()

    # -- the Modbus side

    def write_coils(self, address: int, values: list[bool]) -> None:
        with self._lock:
            self._advance()
            for offset, value in enumerate(values):
                index = address + offset
                if not 0 <= index < BITS:
                    continue
                rising = value and not self.coils[index]
                if value != self.coils[index]:
                    logger.info("coil_changed", address=index, on=bool(value))
                self.coils[index] = bool(value)
                if rising:
                    self._relay_closed(index)

    def coil_bits(self) -> list[bool]:
        with self._lock:
            return list(self.coils)

    def input_bits(self) -> list[bool]:
        with self._lock:
            self._advance()
            bits = [False] * BITS
            for name, value in self._inputs().items():
                bits[self._address(name)] = value
            return bits

    # -- the world side (control endpoint, scenarios)

    def set_loops(self, arming: bool | None = None, safety: bool | None = None) -> None:
        with self._lock:
            self._advance()
            for name, value in (("arming", arming), ("safety", safety)):
                if value is not None and value != self.loops[name]:
                    self.loops[name] = value
                    logger.info("loop_set", loop=name, occupied=value)

    def set_stuck(self, name: str, value: bool | None) -> None:
        if name not in INPUT_NAMES:
            raise ValueError(f"input: unknown input {name!r}; expected one of {list(INPUT_NAMES)}")
        with self._lock:
            if value is None:
                self.stuck.pop(name, None)
                logger.info("input_released", input=name)
            else:
                self.stuck[name] = value
                logger.info("input_stuck", input=name, value=value)

    def set_help(self, pressed: bool) -> None:
        if self.map.help_button is None:
            raise ValueError("pressed: this module's map has no help_button input")
        with self._lock:
            self.help = pressed
            logger.info("help_button", pressed=pressed)

    def set_broken(self, broken: bool) -> None:
        with self._lock:
            self._advance()
            self.broken = broken
            if broken:
                self.motion = 0
            logger.info("arm_broken" if broken else "arm_repaired")

    def tick(self) -> None:
        with self._lock:
            self._advance()

    def state(self) -> dict[str, Any]:
        with self._lock:
            self._advance()
            inputs = self._inputs()
            return {
                "loops": dict(self.loops),
                "inputs": inputs,
                "relays": {
                    "open_relay": self.coils[self.map.open_relay],
                    "close_relay": self.coils[self.map.close_relay],
                    "lane_light": self.coils[self.map.lane_light],
                },
                "light": "green" if self.coils[self.map.lane_light] else "red",
                "arm": {
                    "height": round(self.height, 3),
                    "motion": {1: "rising", -1: "falling", 0: "still"}[self.motion],
                    "broken": self.broken,
                },
                "stuck": dict(self.stuck),
            }

    # -- internals, called with the lock held

    def _address(self, name: str) -> int:
        address = {
            "arming": self.map.arming_loop,
            "safety": self.map.safety_loop,
            "up_limit": self.map.barrier_up,
            "down_limit": self.map.barrier_down,
            "fault": self.map.barrier_fault,
            "help_button": self.map.help_button,
        }[name]
        if address is None:
            raise ValueError(f"input: {name} is not wired on this module's map")
        return address

    def _inputs(self) -> dict[str, bool]:
        actual = {
            "arming": self.loops["arming"],
            "safety": self.loops["safety"],
            "up_limit": self.height >= 1.0,
            "down_limit": self.height <= 0.0,
            "fault": self.broken,
        }
        if self.map.help_button is not None:
            actual["help_button"] = self.help
        return {name: self.stuck.get(name, value) for name, value in actual.items()}

    def _safety_occupied(self) -> bool:
        return self.stuck.get("safety", self.loops["safety"])

    def _relay_closed(self, address: int) -> None:
        if self.broken:
            logger.warning("command_ignored", reason="arm broken", coil=address)
            return
        if address == self.map.open_relay and self.height < 1.0:
            self.motion = 1
            logger.info("arm_rising", height=round(self.height, 3))
        elif address == self.map.close_relay and self.height > 0.0:
            if self._safety_occupied():
                logger.warning("close_refused", reason="safety loop occupied")
                return
            self.motion = -1
            logger.info("arm_falling", height=round(self.height, 3))

    def _advance(self) -> None:
        now = self.clock()
        elapsed = now - self._last_tick
        self._last_tick = now
        if self.motion == -1 and self._safety_occupied():
            self.motion = 1
            logger.warning("arm_reversed", reason="safety loop occupied", height=self.height)
        if self.motion == 1:
            self.height = min(1.0, self.height + elapsed / self.rise_s)
            if self.height >= 1.0:
                self.motion = 0
                logger.info("arm_up")
        elif self.motion == -1:
            self.height = max(0.0, self.height - elapsed / self.fall_s)
            if self.height <= 0.0:
                self.motion = 0
                logger.info("arm_down")


class IOModuleSimulator:
    """Modbus servers (TCP, optionally RTU) for a :class:`BarrierWorld`, in their own thread."""

    def __init__(
        self,
        world: BarrierWorld,
        faults: Faults,
        *,
        host: str = "127.0.0.1",
        port: int = 5020,
        rtu_port: str | None = None,
        baudrate: int = 9600,
        tick_s: float = 0.02,
    ) -> None:
        self.world = world
        self.faults = faults
        self.host = host
        self.port = port
        self.rtu_port = rtu_port
        self.baudrate = baudrate
        self.tick_s = tick_s
        self._service = LoopThread(self._serve, name="sim-io", daemon=True)
        self._drop_next = 0  # replies still to swallow, set through POST /faults

    # -- lifecycle

    def start(self) -> None:
        """Serve in a background thread; returns once listening (raises if it cannot)."""
        self._service.start()

    def stop(self) -> None:
        self._service.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- control routes

    def routes(self) -> dict[str, Route]:
        """The control routes; each answers with the state of ``GET /state``.

        - ``GET /state``: loops, inputs (as the module reports them), relays, light, arm
          height and motion, stuck inputs, faults, Modbus address.
        - ``POST /loops`` ``{"arming": bool?, "safety": bool?}``: vehicles on or off the loops.
        - ``POST /stuck`` ``{"input": name, "value": bool | null}``: force an input (arming,
          safety, up_limit, down_limit, fault); null releases it.
        - ``POST /arm`` ``{"broken": bool}``: break or repair the arm.
        - ``POST /help`` ``{"pressed": bool}``: the driver presses (true) or lets go of
          (false) the help button (input 5 unless the map says otherwise).
        - ``POST /faults`` ``{"delay_ms", "drop_rate", "garble_rate", "silent", "seed",
          "drop_next"}`` (any of them): fault injection on the Modbus replies.
        """
        return {
            "GET /state": lambda _body: self.state(),
            "POST /loops": self._post_loops,
            "POST /stuck": self._post_stuck,
            "POST /arm": self._post_arm,
            "POST /help": self._post_help,
            "POST /faults": self._post_faults,
        }

    def state(self) -> dict[str, Any]:
        faults = {**asdict(self.faults), "drop_next": self._drop_next}
        return {**self.world.state(), "faults": faults, "modbus": self.address}

    def _post_loops(self, body: dict[str, Any]) -> dict[str, Any]:
        only_keys(body, "arming", "safety")
        self.world.set_loops(
            arming=optional_bool(body, "arming"), safety=optional_bool(body, "safety")
        )
        return self.state()

    def _post_stuck(self, body: dict[str, Any]) -> dict[str, Any]:
        only_keys(body, "input", "value")
        name = body.get("input")
        if not isinstance(name, str):
            raise ValueError(f"input: expected one of {list(INPUT_NAMES)}")
        if "value" not in body:
            raise ValueError("value: required (true, false, or null to release)")
        self.world.set_stuck(name, optional_bool(body, "value"))
        return self.state()

    def _post_arm(self, body: dict[str, Any]) -> dict[str, Any]:
        self.world.set_broken(one_bool(body, "broken"))
        return self.state()

    def _post_help(self, body: dict[str, Any]) -> dict[str, Any]:
        self.world.set_help(one_bool(body, "pressed"))
        return self.state()

    def _post_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        self.faults, self._drop_next = updated_faults(self.faults, self._drop_next, body)
        logger.info("faults_set", **body)
        return self.state()

    # -- the server thread

    async def _serve(self, stop: asyncio.Event, ready: Callable[[], None]) -> None:
        from pymodbus.framer import FramerType
        from pymodbus.server import ModbusSerialServer, ModbusTcpServer

        device = self._device()
        servers: list[Any] = []
        try:
            tcp = ModbusTcpServer(device, address=(self.host, self.port), trace_packet=self._trace)
            await tcp.serve_forever(background=True)
            servers.append(tcp)
            listener = cast(asyncio.Server, tcp.transport)  # pymodbus types it loosely
            self.port = listener.sockets[0].getsockname()[1]
            logger.debug("modbus_tcp_listening", address=self.address)  # the command says it
            if self.rtu_port is not None:
                rtu = ModbusSerialServer(
                    device,
                    framer=FramerType.RTU,
                    port=self.rtu_port,
                    baudrate=self.baudrate,
                    trace_packet=self._trace,
                )
                await rtu.serve_forever(background=True)
                servers.append(rtu)
                logger.info("modbus_rtu_listening", port=self.rtu_port, baudrate=self.baudrate)
        except BaseException:
            for server in servers:
                await server.shutdown()
            raise
        ready()
        try:
            while not stop.is_set():
                self.world.tick()
                try:
                    await asyncio.wait_for(stop.wait(), self.tick_s)
                except TimeoutError:
                    continue
        finally:
            for server in servers:
                await server.shutdown()
            logger.info("modbus_stopped")

    def _device(self) -> Any:
        from pymodbus.simulator import DataType, SimData, SimDevice

        def bits() -> list[SimData]:
            return [SimData(0, count=BITS, values=False, datatype=DataType.BITS)]

        def registers() -> list[SimData]:
            return [SimData(0, values=0, datatype=DataType.REGISTERS)]

        # Unit id 0 answers for every unit id, like a module on its own.
        return SimDevice(0, simdata=(bits(), bits(), registers(), registers()), action=self._access)

    async def _access(  # noqa: PLR0917 - the signature of pymodbus' SimDevice action
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        """pymodbus calls this on every access: serve the world's bits, take coil writes."""
        if self.faults.delay_ms:
            await asyncio.sleep(self.faults.delay_ms / 1000)
        if function_code in (5, 15) and set_values is not None:
            self.world.write_coils(address, [bool(v) for v in set_values])
        bits = self.world.input_bits() if function_code == 2 else self.world.coil_bits()
        registers[0] = sum(1 << i for i, on in enumerate(bits) if on)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """Fault injection on the wire: drop (silence) or garble replies."""
        if not sending:
            return data
        if self._drop_next > 0:
            self._drop_next -= 1
            logger.info("reply_dropped", size=len(data), still_to_drop=self._drop_next)
            return b""
        if self.faults.drops():
            logger.info("reply_dropped", size=len(data))
            return b""
        garbled = self.faults.garble(data)
        if garbled != data:
            logger.info("reply_garbled", size=len(data))
        return garbled
