"""Runs a traffic scenario (see :mod:`simulators.scenarios`) against the simulators.

The runner only talks to the simulators' JSON control endpoints: it puts
vehicles on loops, shows plates to the camera, breaks the arm, and watches the
barrier to check what the lane did. Simulators the scenario needs and the user
did not name are started in this process (the camera and the I/O module).

``speed`` divides every time of the scenario, waits and expectations included:
use 1 with a real lane, more to rehearse a scenario quickly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from plumbing import log
from simulators.control import ControlClient, ControlError, ControlServer
from simulators.scenarios import (
    BarrierReport,
    BarrierStays,
    BreakArm,
    CameraDark,
    ClearPlate,
    Device,
    Loops,
    PressHelp,
    Scenario,
    SetFaults,
    ShowPlate,
    Step,
    Stuck,
    TypePlate,
    WaitBarrier,
)

logger = log.get(__name__)

SIMULATOR_NAMES: dict[Device, str] = {
    "io": "I/O module simulator (lanewarden sim io)",
    "camera": "camera simulator (lanewarden sim camera)",
    "barrier": "serial barrier simulator (lanewarden sim barrier)",
    "gateway": "payment gateway simulator (lanewarden sim gateway)",
}
# A key of each simulator's GET /state, to tell a wrong URL from the right one.
STATE_MARKERS: dict[Device, str] = {
    "io": "inputs",
    "camera": "stream_url",
    "barrier": "position",
    "gateway": "plate_orders",
}
SIGNAL_CODES = {"vehicle_passed": "P", "arm_broken": "B", "obstacle": "X", "manual_key": "K"}
POLL_S = 0.05


class SimulatorUnreachableError(Exception):
    """A simulator does not answer, or the URL given is another kind of simulator."""


class StepFailedError(Exception):
    """A simulator refused a step or went away during the run."""


def needed(scenario: Scenario, serial_barrier: bool) -> set[Device]:
    """The simulators a scenario acts on; "barrier" steps use the I/O module without a serial barrier."""
    barrier: Device = "barrier" if serial_barrier else "io"
    devices: set[Device] = set()
    for step in scenario.steps:
        if isinstance(step, Loops | Stuck | PressHelp):
            devices.add("io")
        elif isinstance(step, ShowPlate | ClearPlate | CameraDark):
            devices.add("camera")
        elif isinstance(step, BarrierReport):
            devices.add("barrier")
        elif isinstance(step, SetFaults):
            devices.add(step.device)
        elif isinstance(step, TypePlate):
            devices.add("gateway")
        else:
            devices.add(barrier)
    return devices


@dataclass
class Result:
    steps: int = 0
    met: int = 0
    missed: int = 0
    failed: bool = False  # an expectation marked "fail" was not met
    interrupted: bool = False


@dataclass
class Simulators:
    """Control clients of the simulators in use, by device."""

    clients: dict[Device, ControlClient] = field(default_factory=dict)

    def client(self, device: Device) -> ControlClient:
        return self.clients[device]

    @property
    def barrier(self) -> ControlClient:
        """The barrier's simulator: the serial barrier when there is one, else the I/O module."""
        return self.clients.get("barrier") or self.clients["io"]

    def check(self) -> None:
        """Every simulator answers and is the kind it is said to be, or SimulatorUnreachableError."""
        for device, client in sorted(self.clients.items()):
            try:
                state = client.get("/state")
            except ControlError as exc:
                raise SimulatorUnreachableError(
                    f"cannot reach the {SIMULATOR_NAMES[device]} at {client.url}: {exc}"
                ) from None
            if STATE_MARKERS[device] not in state:
                raise SimulatorUnreachableError(
                    f"{client.url} does not look like the {SIMULATOR_NAMES[device]}: its "
                    f"GET /state has no {STATE_MARKERS[device]!r}"
                )

    def barrier_position(self) -> str:
        if "barrier" in self.clients:
            return str(self.clients["barrier"].get("/state")["position"])
        inputs = self.clients["io"].get("/state")["inputs"]
        if inputs["fault"]:
            return "fault"
        if inputs["up_limit"]:
            return "up"
        return "down" if inputs["down_limit"] else "moving"


@contextmanager
def local_simulators(devices: set[Device], out: TextIO) -> Iterator[dict[Device, str]]:
    """Start the camera and I/O module simulators in this process; their control URLs."""
    from simulators.camera import CameraSimulator
    from simulators.faults import Faults
    from simulators.io_module import BarrierWorld, IOModuleSimulator
    from simulators.running import announce

    urls: dict[Device, str] = {}
    places: list[tuple[str, str]] = []
    with ExitStack() as stack:
        if "io" in devices:  # starts quietly: the lines below say where it is
            io = IOModuleSimulator(BarrierWorld(), Faults(), port=0)
            io.start()
            stack.callback(io.stop)
            control = ControlServer(io.routes())
            control.start()
            stack.callback(control.stop)
            urls["io"] = control.url
            places.append(("I/O module, Modbus TCP (in this process)", io.address))
        camera = CameraSimulator() if "camera" in devices else None
        if camera is not None:
            places.insert(0, ("camera stream (MJPEG, in this process)", camera.stream_url))
            urls["camera"] = camera.control_url
        announce(*places, out=out)
        if camera is not None:
            camera.start()
            stack.callback(camera.stop)
        if "io" in devices:
            say(out, "no lane drives these simulators: barrier expectations will not be met")
        yield urls


class TrafficRunner:
    """Plays a scenario's steps in time, printing each, and counts the expectations met."""

    def __init__(
        self,
        name: str,
        scenario: Scenario,
        sims: Simulators,
        *,
        out: TextIO,
        speed: float = 1.0,
        stop: threading.Event | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.name = name
        self.scenario = scenario
        self.sims = sims
        self.out = out
        self.speed = speed
        self.stop = stop or threading.Event()
        self._start = 0.0

    def run(self) -> Result:
        result = Result()
        total = len(self.scenario.steps)
        say(self.out, f"scenario {self.name}: {self.scenario.description}")
        self._start = time.monotonic()
        previous_end = self._start
        for number, step in enumerate(self.scenario.steps, start=1):
            if step.at is not None:
                begin = self._start + step.at / self.speed
            else:
                begin = previous_end + (step.after or 0.0) / self.speed
            if self.stop.wait(max(0.0, begin - time.monotonic())):
                result.interrupted = True
                break
            line = f"{self._elapsed():7.2f}s  {number:>2}/{total}  {describe(step)}"
            say(self.out, line + (f"  ({step.say})" if step.say else ""))
            try:
                outcome = self._perform(step)
            except ControlError as exc:
                raise StepFailedError(f"step {number} ({step.action}) failed: {exc}") from None
            result.steps += 1
            if outcome is not None:
                met, detail = outcome
                verdict = {None: "", True: "met: ", False: "NOT MET: "}[met]
                say(self.out, f"{'':18}-> {verdict}{detail}")
                if met is True:
                    result.met += 1
                elif met is False:
                    result.missed += 1
                    result.failed |= _fails(step)
            previous_end = time.monotonic()
            if self.stop.is_set():
                result.interrupted = True
                break
        say(
            self.out,
            f"{self.name}: {result.steps} of {total} steps in {self._elapsed():.1f} s; "
            f"expectations met {result.met}, not met {result.missed}"
            + ("; interrupted" if result.interrupted else ""),
        )
        return result

    def _elapsed(self) -> float:
        return time.monotonic() - self._start

    def _perform(self, step: Step) -> tuple[bool | None, str] | None:
        """Carry out one step: (met, what was seen) for an expectation, (None, note) for news."""
        if isinstance(step, Loops):
            self.sims.client("io").post("/loops", _body(step, "arming", "safety"))
        elif isinstance(step, Stuck):
            self.sims.client("io").post("/stuck", {"input": step.input, "value": step.value})
        elif isinstance(step, ShowPlate):
            body = _body(step, "plate", "image", "unreadable")
            shown = self.sims.client("camera").post("/vehicle", body)["vehicle"]
            return None, f"camera shows {shown['plate']} ({shown['source']})"
        elif isinstance(step, ClearPlate):
            self.sims.client("camera").call("DELETE", "/vehicle")
        elif isinstance(step, CameraDark):
            self.sims.client("camera").post("/dark", {"dark": step.dark, "mode": step.mode})
        elif isinstance(step, BreakArm):
            self.sims.barrier.post("/arm", {"broken": step.broken})
        elif isinstance(step, BarrierReport):
            self.sims.client("barrier").post("/event", {"code": SIGNAL_CODES[step.signal]})
        elif isinstance(step, SetFaults):
            faults = _body(step, "delay_ms", "drop_rate", "garble_rate", "silent")
            self.sims.client(step.device).post("/faults", faults)
        elif isinstance(step, PressHelp):
            self.sims.client("io").post("/help", {"pressed": True})
            self.stop.wait(step.hold / self.speed)
            self.sims.client("io").post("/help", {"pressed": False})
        elif isinstance(step, TypePlate):
            body = {"lane_id": step.lane, "plate": step.plate, "pay": step.pay}
            typed = self.sims.client("gateway").post("/plate", body)
            return (
                None,
                f"plate order {typed['plate_order_id']} for {typed['plate']} at the gateway",
            )
        elif isinstance(step, WaitBarrier):
            return self._wait_barrier(step)
        else:
            return self._barrier_stays(step)
        return None

    def _wait_barrier(self, step: WaitBarrier) -> tuple[bool, str]:
        began = time.monotonic()
        deadline = began + step.within / self.speed
        position = self.sims.barrier_position()
        while position != step.position and not self.stop.wait(POLL_S):
            if time.monotonic() >= deadline:
                return False, f"barrier {position} after {time.monotonic() - began:.1f} s"
            position = self.sims.barrier_position()
        if position != step.position:
            return False, f"interrupted with the barrier {position}"
        return True, f"barrier {position} after {time.monotonic() - began:.1f} s"

    def _barrier_stays(self, step: BarrierStays) -> tuple[bool, str]:
        began = time.monotonic()
        deadline = began + step.hold / self.speed
        while True:
            position = self.sims.barrier_position()
            if position != step.position:
                return False, f"barrier {position} after {time.monotonic() - began:.1f} s"
            if time.monotonic() >= deadline or self.stop.wait(POLL_S):
                return True, f"barrier stayed {position} for {time.monotonic() - began:.1f} s"


def describe(step: Step) -> str:
    """``show_plate plate=皖A12345`` from a step's action and the keys it sets."""
    keys = step.model_dump(
        by_alias=True, exclude_defaults=True, exclude={"at", "after", "say", "action"}
    )
    return " ".join([step.action, *(f"{k}={_show(v)}" for k, v in keys.items())])


def _body(step: Step, *keys: str) -> dict[str, Any]:
    """The step's values of ``keys`` that are set, as a control request body."""
    return step.model_dump(include=set(keys), exclude_none=True)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _fails(step: Step) -> bool:
    if isinstance(step, WaitBarrier):
        return step.on_timeout == "fail"
    return isinstance(step, BarrierStays) and step.on_change == "fail"


def say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)
