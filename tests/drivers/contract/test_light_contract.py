"""The LaneLight contract, for every implementation (fake, Modbus TCP, GPIO)."""

from __future__ import annotations

from drivers.testing import Events
from plumbing.testing import wait_until
from simulators.testing import LightRig


class TestLightContract:
    """set_green switches the light the world sees."""

    def test_green_then_red(self, light_rig: LightRig) -> None:
        light_rig.light.start(Events())
        wait_until(lambda: light_rig.light.set_green(True).ok, "light accepts a command")
        assert light_rig.world.light_green() is True
        assert light_rig.light.set_green(False).ok
        assert light_rig.world.light_green() is False

    def test_command_before_start_fails_with_reason(self, light_rig: LightRig) -> None:
        result = light_rig.light.set_green(True)
        assert not result.ok
        assert "not started" in result.reason
        assert light_rig.world.light_green() is not True
