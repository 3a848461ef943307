"""The Barrier contract, for every implementation (fake, Modbus TCP, GPIO, serial over a pty)."""

from __future__ import annotations

from collections.abc import Callable

from drivers.interfaces import BarrierMoved, DeviceEvent, DeviceFault, Position
from drivers.testing import Events
from plumbing.testing import wait_until
from simulators.testing import BarrierRig


def moved(position: Position) -> Callable[[DeviceEvent], bool]:
    return lambda e: isinstance(e, BarrierMoved) and e.position is position


def started(rig: BarrierRig) -> Events:
    """Start the barrier and wait until it knows where the arm is (down, at rest)."""
    events = Events()
    rig.barrier.start(events)
    wait_until(lambda: rig.barrier.position() is Position.DOWN, "barrier reads down at start")
    return events


class TestBarrierContract:
    """Commands move the arm, positions are reported, faults are events."""

    def test_opens_and_closes(self, barrier_rig: BarrierRig) -> None:
        events = started(barrier_rig)
        assert barrier_rig.barrier.open().ok
        events.wait_for(moved(Position.UP), "barrier up")
        assert barrier_rig.barrier.position() is Position.UP
        events.clear()
        assert barrier_rig.barrier.close().ok
        events.wait_for(moved(Position.DOWN), "barrier down")
        assert barrier_rig.barrier.position() is Position.DOWN

    def test_lock_open_refuses_close_until_unlocked(self, barrier_rig: BarrierRig) -> None:
        events = started(barrier_rig)
        assert barrier_rig.barrier.lock_open().ok
        events.wait_for(moved(Position.UP), "barrier up")
        refused = barrier_rig.barrier.close()
        assert not refused.ok
        assert "locked open" in refused.reason
        assert barrier_rig.barrier.unlock().ok
        assert barrier_rig.barrier.close().ok
        events.wait_for(moved(Position.DOWN), "barrier down after unlock")

    def test_jammed_arm_is_a_fault(self, barrier_rig: BarrierRig) -> None:
        events = started(barrier_rig)
        barrier_rig.world.jam()
        barrier_rig.barrier.open()
        fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "barrier fault")
        assert isinstance(fault, DeviceFault)
        assert fault.reason
        wait_until(lambda: barrier_rig.barrier.position() is Position.FAULT, "position is fault")

    def test_command_before_start_fails_with_reason(self, barrier_rig: BarrierRig) -> None:
        result = barrier_rig.barrier.open()
        assert not result.ok
        assert "not started" in result.reason

    def test_lost_device_is_a_fault(self, barrier_rig: BarrierRig) -> None:
        events = started(barrier_rig)
        barrier_rig.world.cut()
        events.wait_for(lambda e: isinstance(e, DeviceFault), "device fault")
