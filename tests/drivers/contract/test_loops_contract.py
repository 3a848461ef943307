"""The LoopInputs contract, for every implementation (fake, Modbus TCP, GPIO)."""

from __future__ import annotations

from collections.abc import Callable

from drivers.interfaces import (
    DeviceEvent,
    DeviceFault,
    DeviceRecovered,
    Loop,
    LoopChanged,
    LoopState,
)
from drivers.testing import Events
from plumbing.testing import wait_until
from simulators.testing import LoopsRig


def changed(loop: Loop, occupied: bool) -> Callable[[DeviceEvent], bool]:
    return lambda e: isinstance(e, LoopChanged) and e.loop is loop and e.occupied is occupied


class TestLoopsContract:
    """Loop changes are reported once debounced; faults and recoveries are events."""

    def test_empty_lane_reads_unoccupied(self, loops_rig: LoopsRig) -> None:
        loops_rig.loops.start(Events())
        assert loops_rig.loops.state() == LoopState(arming=False, safety=False)

    def test_vehicle_on_and_off_the_arming_loop(self, loops_rig: LoopsRig) -> None:
        events = Events()
        loops_rig.loops.start(events)
        loops_rig.world.put(Loop.ARMING, True)
        events.wait_for(changed(Loop.ARMING, True), "arming loop occupied")
        assert loops_rig.loops.state() == LoopState(arming=True, safety=False)
        loops_rig.world.put(Loop.ARMING, False)
        events.wait_for(changed(Loop.ARMING, False), "arming loop freed")
        assert loops_rig.loops.state() == LoopState(arming=False, safety=False)

    def test_vehicle_on_the_safety_loop(self, loops_rig: LoopsRig) -> None:
        events = Events()
        loops_rig.loops.start(events)
        loops_rig.world.put(Loop.SAFETY, True)
        event = events.wait_for(changed(Loop.SAFETY, True), "safety loop occupied")
        assert isinstance(event, LoopChanged)
        assert loops_rig.loops.state().safety
        assert not any(changed(Loop.ARMING, True)(e) for e in events.all)

    def test_lost_device_is_a_fault_then_a_recovery(self, loops_rig: LoopsRig) -> None:
        events = Events()
        loops_rig.loops.start(events)
        loops_rig.world.put(Loop.ARMING, True)
        events.wait_for(changed(Loop.ARMING, True), "arming loop occupied")
        loops_rig.world.cut()
        fault = events.wait_for(lambda e: isinstance(e, DeviceFault), "device fault")
        assert isinstance(fault, DeviceFault)
        assert fault.reason
        loops_rig.world.restore()
        events.wait_for(lambda e: isinstance(e, DeviceRecovered), "device recovery")
        loops_rig.world.put(Loop.ARMING, False)
        events.wait_for(changed(Loop.ARMING, False), "loop change after recovery")

    def test_restarts_after_stop(self, loops_rig: LoopsRig) -> None:
        loops_rig.loops.start(Events())
        loops_rig.loops.stop()
        events = Events()
        loops_rig.loops.start(events)
        loops_rig.world.put(Loop.SAFETY, True)
        events.wait_for(changed(Loop.SAFETY, True), "safety loop occupied after restart")
        wait_until(lambda: loops_rig.loops.state().safety, "state follows the event")
