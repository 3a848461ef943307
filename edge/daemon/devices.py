"""The lane's devices as the daemon sees them: readiness at start, and their events.

:func:`wait_until_up` fails the start, naming the device, when a device reports a
fault or does not come up in time (no I/O reading, no barrier position, no
camera frame). :func:`lane_event_of` turns a driver's event into the lane
machine's event (or None when the machine has no use for it).
"""

from __future__ import annotations

import asyncio
import time

from drivers.factory import LaneDrivers
from drivers.interfaces import (
    BarrierMoved,
    DeviceEvent,
    DeviceFault,
    HelpPressed,
    Loop,
    LoopChanged,
    Position,
)
from edge.lane.events import (
    ArmingLoop,
    BarrierDown,
    BarrierFault,
    BarrierUp,
    Event,
    SafetyLoop,
)
from edge.lane.events import HelpPressed as LaneHelpPressed

POLL_S = 0.02
FAULTS_SETTLE_S = 0.2


class DeviceStartError(Exception):
    """A device of the lane is missing or does not answer at start; the message names it."""


async def wait_until_up(drivers: LaneDrivers, faults: dict[str, str], timeout_s: float) -> None:
    """Wait until the barrier knows its position and the camera has a frame.

    ``faults`` collects the devices' fault reports as they arrive (device name to
    reason); any fault before the lane is up fails the start, naming every device
    that reported one.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        await asyncio.sleep(POLL_S)  # let the reports handed over so far arrive first
        if faults:
            await asyncio.sleep(FAULTS_SETTLE_S)  # devices failing together are named together
            raise DeviceStartError("; ".join(f"{device}: {why}" for device, why in faults.items()))
        waiting = []
        if drivers.barrier.position() is Position.UNKNOWN:
            waiting.append(f"{drivers.barrier.name}: no position reported")
        if drivers.camera.latest() is None:
            waiting.append(f"{drivers.camera.name}: no frame received")
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise DeviceStartError("; ".join(waiting) + f" within {timeout_s:g} s")


def lane_event_of(event: DeviceEvent, barrier_devices: frozenset[str]) -> Event | None:
    """The lane machine's event for a driver event; ``barrier_devices`` carry the barrier."""
    match event:
        case LoopChanged(loop=Loop.ARMING, occupied=occupied):
            return ArmingLoop(occupied)
        case LoopChanged(loop=Loop.SAFETY, occupied=occupied):
            return SafetyLoop(occupied)
        case BarrierMoved(position=Position.UP):
            return BarrierUp()
        case BarrierMoved(position=Position.DOWN):
            return BarrierDown()
        case BarrierMoved(position=Position.FAULT):
            return BarrierFault("the barrier reports a fault")
        case DeviceFault(device=device, reason=reason) if device in barrier_devices:
            return BarrierFault(f"{device}: {reason}")
        case HelpPressed():
            return LaneHelpPressed()
    return None
