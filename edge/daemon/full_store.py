"""The lane while its store cannot take a record (a full disk, or the store's size limit).

Nothing may happen that must be recorded first, so the daemon stops its lane
machine where the failed commit stopped it (that step's actions are not carried
out) and :class:`FullStore` keeps the lane safe until a record can be written
again: the barrier goes to the policy's safe position as
:func:`edge.lane.store_space.full_store_barrier` decides (locked open, or closed
once the safety loop is clear), the alarm is logged and counted at once, and
every ``retry_s`` the alarm record itself, dated when the store filled, is tried
again. The first that goes in ends the full state; the daemon then resumes the
lane as after a restart. A failed commit is rolled back whole, so nothing
committed before is lost.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from drivers.factory import LaneDrivers
from drivers.interfaces import Position
from edge.daemon.recording import Recorder
from edge.lane.store_space import BarrierMove, full_store_barrier
from edge.store import StoreFullError
from plumbing import log

logger = log.get(__name__)

ALARM = "store_full"


class FullStore:
    """Notices the full store once, keeps the barrier safe, and waits for space."""

    def __init__(
        self, recorder: Recorder, drivers: LaneDrivers, safe_position: str, retry_s: float
    ) -> None:
        self.recorder = recorder
        self.drivers = drivers
        self.safe_position = safe_position
        self.retry_s = retry_s
        self.since: datetime | None = None
        self.reason = ""
        self.locked_open = False

    @property
    def full(self) -> bool:
        return self.since is not None

    def notice(self, error: StoreFullError) -> bool:
        """A write failed for want of space; True the first time (the lane must stop)."""
        if self.since is not None:
            return False
        self.since, self.reason = datetime.now(UTC), str(error)[:200]
        logger.warning("alarm", alarm=ALARM, detail=self.reason)
        self.recorder.metrics.alarm(ALARM)
        return True

    async def ride_out(self) -> float:
        """Keep the barrier safe until the store takes the alarm record; the seconds it was full."""
        since = self.since
        assert since is not None, "notice() first"
        placed = False
        while True:
            if not placed:
                placed = await self._place_barrier()
            try:
                ended = datetime.now(UTC)
                full_s = round((ended - since).total_seconds(), 1)
                with self.recorder.store.batch():
                    self.recorder.raised(
                        ALARM, since, {"reason": self.reason, "barrier": self.safe_position}
                    )
                    self.recorder.event("store_full_ended", ended, detail={"full_s": full_s})
            except StoreFullError:
                await asyncio.sleep(self.retry_s)
                continue
            self.since = None
            logger.info("store_full_ended", full_s=full_s)
            return full_s

    async def _place_barrier(self) -> bool:
        """One look at the lane: move the barrier if it may move now; True once it is placed."""
        barrier = self.drivers.barrier
        move = full_store_barrier(
            self.safe_position,
            barrier_down=barrier.position() is Position.DOWN,
            safety_occupied=self.drivers.loops.state().safety,
        )
        if move is BarrierMove.WAIT:
            return False
        if move is BarrierMove.STAY:
            return True
        command = barrier.lock_open if move is BarrierMove.LOCK_OPEN else barrier.close
        result = await asyncio.to_thread(command)
        self.locked_open = move is BarrierMove.LOCK_OPEN and result.ok
        logger.info("barrier_safe_store_full", move=move.value, ok=result.ok, reason=result.reason)
        return True
