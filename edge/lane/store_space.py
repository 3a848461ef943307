"""What the lane does about its store's space: pure decisions that the daemon carries out.

Two conditions, two rules:

- **nearly full** (free space under ``[degraded] store_min_free_mb``): the lane
  takes the configured outcome's mode for as long as it lasts (keep serving,
  closed, or free passage), recorded and alarmed when it begins and ends;
- **full** (a commit failed for want of space): nothing can be recorded, so
  nothing that must be recorded first may happen. The machine stops where the
  failed record stopped it, and the barrier goes to the policy's safe position:
  locked open, or closed once the safety loop is clear (never on a vehicle).
  When a record can be written again the lane resumes as after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.lane.events import Mode
from edge.lane.policy import StoreFullOutcome

NEARLY_FULL_MODES: dict[StoreFullOutcome, Mode] = {
    StoreFullOutcome.KEEP_SERVING: Mode.NORMAL,
    StoreFullOutcome.CLOSE_LANE: Mode.CLOSED,
    StoreFullOutcome.FREE_PASSAGE: Mode.FREE_PASSAGE,
}


class SpaceChange(StrEnum):
    BEGAN = "began"  # record degraded_mode (an alarm)
    ENDED = "ended"  # record degraded_mode_ended


@dataclass(frozen=True)
class SpaceCheck:
    """The result of one look at the free space."""

    in_force: Mode | None
    """The nearly-full mode in force after this check (None: the store has room)."""
    change: SpaceChange | None = None
    set_mode: Mode | None = None
    """The lane mode to set now (None: the lane's mode stays as it is)."""


def check_space(
    free_mb: int, min_free_mb: int, outcome: StoreFullOutcome, in_force: Mode | None
) -> SpaceCheck:
    """The nearly-full rule for ``free_mb`` of free space, ``in_force`` the mode it set before."""
    nearly_full = free_mb < min_free_mb
    if nearly_full and in_force is None:
        mode = NEARLY_FULL_MODES[outcome]
        return SpaceCheck(mode, SpaceChange.BEGAN, None if mode is Mode.NORMAL else mode)
    if not nearly_full and in_force is not None:
        back = None if in_force is Mode.NORMAL else Mode.NORMAL
        return SpaceCheck(None, SpaceChange.ENDED, back)
    return SpaceCheck(in_force)


class BarrierMove(StrEnum):
    LOCK_OPEN = "lock_open"
    CLOSE = "close"
    WAIT = "wait"  # the safety loop is occupied: look again
    STAY = "stay"  # already where it should be


def full_store_barrier(
    safe_position: str, barrier_down: bool, safety_occupied: bool
) -> BarrierMove:
    """Where the barrier goes while the store is full: the policy's safe position, safely."""
    if safe_position == "open":
        return BarrierMove.LOCK_OPEN
    if barrier_down:
        return BarrierMove.STAY
    return BarrierMove.WAIT if safety_occupied else BarrierMove.CLOSE
