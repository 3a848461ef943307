"""The lane's rules for its store's space, decided in the core from plain values."""

from __future__ import annotations

import pytest

from edge.lane.events import Mode
from edge.lane.policy import StoreFullOutcome
from edge.lane.store_space import (
    BarrierMove,
    SpaceChange,
    SpaceCheck,
    check_space,
    full_store_barrier,
)


class TestNearlyFull:
    """Below the free-space floor the configured outcome's mode begins once; above it, it ends."""

    @pytest.mark.parametrize(
        ("outcome", "mode", "set_mode"),
        [
            (StoreFullOutcome.KEEP_SERVING, Mode.NORMAL, None),
            (StoreFullOutcome.CLOSE_LANE, Mode.CLOSED, Mode.CLOSED),
            (StoreFullOutcome.FREE_PASSAGE, Mode.FREE_PASSAGE, Mode.FREE_PASSAGE),
        ],
    )
    def test_begins_with_the_outcomes_mode(
        self, outcome: StoreFullOutcome, mode: Mode, set_mode: Mode | None
    ) -> None:
        assert check_space(10, 200, outcome, None) == SpaceCheck(mode, SpaceChange.BEGAN, set_mode)

    def test_begins_once(self) -> None:
        check = check_space(10, 200, StoreFullOutcome.CLOSE_LANE, Mode.CLOSED)
        assert check == SpaceCheck(Mode.CLOSED)

    def test_ends_back_to_normal(self) -> None:
        check = check_space(500, 200, StoreFullOutcome.CLOSE_LANE, Mode.CLOSED)
        assert check == SpaceCheck(None, SpaceChange.ENDED, Mode.NORMAL)

    def test_keep_serving_ends_without_a_mode_change(self) -> None:
        check = check_space(500, 200, StoreFullOutcome.KEEP_SERVING, Mode.NORMAL)
        assert check == SpaceCheck(None, SpaceChange.ENDED, None)

    def test_room_is_nothing(self) -> None:
        assert check_space(500, 200, StoreFullOutcome.CLOSE_LANE, None) == SpaceCheck(None)


class TestFullStoreBarrier:
    """A full store leaves the barrier in the safe position, never closing it on a vehicle."""

    def test_open_policy_locks_it_open(self) -> None:
        assert full_store_barrier("open", barrier_down=True, safety_occupied=True) is (
            BarrierMove.LOCK_OPEN
        )

    def test_closed_policy_closes_a_clear_lane(self) -> None:
        assert full_store_barrier("closed", barrier_down=False, safety_occupied=False) is (
            BarrierMove.CLOSE
        )

    def test_closed_policy_waits_for_the_safety_loop(self) -> None:
        assert full_store_barrier("closed", barrier_down=False, safety_occupied=True) is (
            BarrierMove.WAIT
        )

    def test_a_closed_barrier_stays(self) -> None:
        assert full_store_barrier("closed", barrier_down=True, safety_occupied=True) is (
            BarrierMove.STAY
        )
