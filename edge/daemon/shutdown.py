"""The barrier at a stop: left in the lane's safe position, never closed on a vehicle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from drivers.factory import LaneDrivers
from drivers.interfaces import Position
from edge.daemon.recording import Recorder


async def leave_safe(
    drivers: LaneDrivers,
    safe_position: str,
    recorder: Recorder,
    wait_s: float,
) -> str:
    """Put the barrier in the safe position (``open`` or ``closed``, the policy's), waiting up to ``wait_s`` for the safety loop.

    An occupied safety loop leaves the barrier open, with an alarm: closing it on a
    vehicle is never the safe choice. Returns what was done, for the stop's lane event.
    """
    barrier = drivers.barrier
    if safe_position == "open":
        result = await asyncio.to_thread(barrier.lock_open)
        return "open" if result.ok else f"open refused: {result.reason}"
    if barrier.position() is Position.DOWN:
        return "closed"
    loops = drivers.loops
    if not await until(lambda: not loops.state().safety, wait_s):
        recorder.event(
            "barrier_left_open",
            datetime.now(UTC),
            severity="alarm",
            detail={"reason": "safety loop occupied at shutdown"},
        )
        return "left open: safety loop occupied"
    result = await asyncio.to_thread(barrier.close)
    return "closed" if result.ok else f"close refused: {result.reason}"


async def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Wait until ``condition()`` holds (checked every 50 ms); False when time ran out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True
