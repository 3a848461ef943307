"""The simulated devices of one lane, in this process, and the lane-file sections that reach them.

A :class:`LaneRig` starts the I/O module (Modbus TCP: loops, and the barrier
relays when the barrier is on the module), the camera (an MJPEG stream of
rendered plates, or of the images of a folder), the LED display on a pty and,
for a lane with a serial barrier controller, that controller on a pty. The
traffic acts on the world directly (loops, the plate in view); the rig stamps,
on the monotonic clock, every open and close command the barrier accepts, so the
lane's reaction to the loops can be measured from outside the lane.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from drivers import barrier_frames as bf
from simulators.camera import CameraSimulator
from simulators.display import DisplaySimulator
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator
from simulators.serial_barrier import BarrierController, BarrierSimulator
from simulators.serial_link import PtyLink

DISPLAY_ROWS = 4


class StampedWorld(BarrierWorld):
    """The I/O module's world, stamping each rising edge of the open and close relays."""

    def __init__(self, rise_s: float, fall_s: float) -> None:
        super().__init__(rise_s=rise_s, fall_s=fall_s)
        self.opens: list[float] = []
        self.closes: list[float] = []

    def write_coils(self, address: int, values: list[bool]) -> None:
        relays = ((self.map.open_relay, self.opens), (self.map.close_relay, self.closes))
        before = self.coil_bits()
        super().write_coils(address, values)
        after = self.coil_bits()
        for relay, stamps in relays:
            if after[relay] and not before[relay]:
                stamps.append(time.monotonic())


class StampedController(BarrierController):
    """The serial barrier controller, stamping each open and close command it accepts."""

    def __init__(self, address: str, travel_s: float) -> None:
        super().__init__(address, travel_s)
        self.opens: list[float] = []
        self.closes: list[float] = []

    def handle(self, frame: bf.BarrierFrame) -> bf.BarrierFrame:
        reply = super().handle(frame)
        if reply.command == bf.ACK and frame.command in (bf.OPEN, bf.LOCK_OPEN):
            self.opens.append(time.monotonic())
        elif reply.command == bf.ACK and frame.command == bf.CLOSE:
            self.closes.append(time.monotonic())
        return reply


class LaneRig:
    """Start with :meth:`start`, stop with :meth:`stop`; :meth:`devices` gives the lane-file sections."""

    def __init__(
        self,
        *,
        serial_barrier: bool,
        images: Path | None = None,
        travel_s: float = 1.0,
        fps: float = 10.0,
        seed: int | None = None,
    ) -> None:
        self.serial_barrier = serial_barrier
        self.images = images
        self.travel_s = travel_s
        self.fps = fps
        self.seed = seed
        self.world = StampedWorld(rise_s=travel_s, fall_s=travel_s)
        self.controller = StampedController("01", travel_s) if serial_barrier else None
        self._stack = ExitStack()

    def start(self) -> None:
        stack = self._stack
        try:
            self.io = IOModuleSimulator(self.world, Faults(), port=0)
            self.io.start()
            stack.callback(self.io.stop)
            self.camera = CameraSimulator(port=0, fps=self.fps, images=self.images, seed=self.seed)
            self.camera.start()
            stack.callback(self.camera.stop)
            display_link = PtyLink()
            stack.callback(display_link.close)
            quiet = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
            self.display = DisplaySimulator(display_link, DISPLAY_ROWS, Faults(), out=quiet)
            self.display.start()
            stack.callback(self.display.stop)
            self.barrier_sim: BarrierSimulator | None = None
            if self.controller is not None:
                barrier_link = PtyLink()
                stack.callback(barrier_link.close)
                self.barrier_sim = BarrierSimulator(barrier_link, self.controller, Faults())
                self.barrier_sim.start()
                stack.callback(self.barrier_sim.stop)
        except BaseException:
            stack.close()
            raise

    def stop(self) -> None:
        self._stack.close()

    def devices(self) -> dict[str, dict[str, Any]]:
        """The lane file's device sections for these simulators."""
        host, port = self.io.address.rsplit(":", 1)
        sections: dict[str, dict[str, Any]] = {
            "io": {"type": "modbus_tcp", "host": host, "port": int(port)},
            "barrier": {"type": "io"},
            "loops": {"type": "io"},
            "camera": {"type": "opencv", "source": self.camera.stream_url},
            "display": {"type": "serial", "port": self.display.link.path, "rows": DISPLAY_ROWS},
        }
        if self.barrier_sim is not None:
            sections["barrier"] = {
                "type": "serial",
                "port": self.barrier_sim.link.path,
                "address": "01",
            }
        return sections

    # -- the world, as the traffic acts on it and sees it

    def show(
        self, plate: str | None = None, image: Path | None = None, unreadable: bool = False
    ) -> None:
        self.camera.show_vehicle(plate, image, unreadable)

    def clear(self) -> None:
        self.camera.clear_vehicle()

    def loops(self, arming: bool | None = None, safety: bool | None = None) -> None:
        self.world.set_loops(arming=arming, safety=safety)

    def barrier(self) -> str:
        """up, down, moving or fault."""
        if self.barrier_sim is not None:
            return str(self.barrier_sim.state()["position"])
        state = self.world.state()
        inputs = state["inputs"]
        if inputs["fault"]:
            return "fault"
        if inputs["up_limit"]:
            return "up"
        return "down" if inputs["down_limit"] else "moving"

    @property
    def opens(self) -> list[float]:
        """Monotonic times of the open commands the barrier accepted, oldest first."""
        stamps = self.controller.opens if self.controller is not None else self.world.opens
        return list(stamps)

    @property
    def closes(self) -> list[float]:
        """Monotonic times of the close commands the barrier accepted, oldest first."""
        stamps = self.controller.closes if self.controller is not None else self.world.closes
        return list(stamps)

    def display_lines(self) -> list[str]:
        return list(self.display.state()["lines"])
