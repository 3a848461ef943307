"""``lanewarden sim io``: barrier physics, control routes, mbpoll interop and the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from needs import program
from paths import REPO

from plumbing.testing import wait_until
from simulators.control import ControlClient, ControlError, ControlServer
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator
from simulators.testing import addresses


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def world_at(clock: Clock) -> BarrierWorld:
    return BarrierWorld(rise_s=2.0, fall_s=4.0, clock=clock)


def inputs(world: BarrierWorld) -> list[bool]:
    return world.input_bits()[:5]


class TestBarrierPhysics:
    """Relays move the arm over time; limits follow; the safety loop reverses a closing arm."""

    def test_open_relay_raises_the_arm_in_rise_time(self) -> None:
        clock = Clock()
        world = world_at(clock)
        assert inputs(world) == [False, False, False, True, False]
        world.write_coils(0, [True])
        clock.now = 1.0
        assert inputs(world) == [False, False, False, False, False]
        assert world.state()["arm"] == {"height": 0.5, "motion": "rising", "broken": False}
        clock.now = 2.0
        assert inputs(world) == [False, False, True, False, False]

    def test_close_takes_fall_time(self) -> None:
        clock = Clock()
        world = world_at(clock)
        world.write_coils(0, [True, False])
        clock.now = 2.0
        world.tick()
        world.write_coils(0, [False, True])
        clock.now = 5.0
        assert world.state()["arm"]["motion"] == "falling"
        clock.now = 6.0
        assert inputs(world)[2:4] == [False, True]

    def test_relay_acts_on_its_rising_edge_only(self) -> None:
        clock = Clock()
        world = world_at(clock)
        world.write_coils(0, [True])
        clock.now = 2.0
        world.write_coils(1, [True])  # close
        clock.now = 6.0
        world.write_coils(0, [True])  # still on: no new command
        clock.now = 7.0
        assert inputs(world)[2:4] == [False, True]

    def test_safety_loop_reverses_a_closing_arm(self) -> None:
        clock = Clock()
        world = world_at(clock)
        world.write_coils(0, [True])
        clock.now = 2.0
        world.write_coils(1, [True])
        clock.now = 3.0
        world.set_loops(safety=True)
        clock.now = 3.25
        assert world.state()["arm"] == {"height": 0.875, "motion": "rising", "broken": False}
        clock.now = 3.5
        assert inputs(world)[1:4] == [True, True, False]

    def test_close_refused_on_occupied_safety_loop(self) -> None:
        clock = Clock()
        world = world_at(clock)
        world.write_coils(0, [True])
        clock.now = 2.0
        world.set_loops(safety=True)
        world.write_coils(1, [True])
        clock.now = 9.0
        assert inputs(world)[2] is True

    def test_broken_arm_sets_fault_and_stops(self) -> None:
        clock = Clock()
        world = world_at(clock)
        world.set_broken(True)
        world.write_coils(0, [True])
        clock.now = 3.0
        assert inputs(world) == [False, False, False, True, True]

    def test_stuck_input_overrides_the_world(self) -> None:
        world = world_at(Clock())
        world.set_stuck("arming", True)
        world.set_stuck("down_limit", False)
        assert inputs(world) == [True, False, False, False, False]
        world.set_stuck("arming", None)
        assert inputs(world)[0] is False

    def test_unknown_stuck_input_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"unknown input 'door'.*'arming'"):
            world_at(Clock()).set_stuck("door", True)

    def test_rise_time_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="rise and fall times must be positive"):
            BarrierWorld(rise_s=0)


@pytest.fixture
def control() -> Iterator[tuple[IOModuleSimulator, ControlClient]]:
    yield from _control()


@pytest.fixture(scope="class")
def shared_control() -> Iterator[tuple[IOModuleSimulator, ControlClient]]:
    """One simulator for tests that leave it as they found it (each server stop takes 0.5 s)."""
    yield from _control()


def _control() -> Iterator[tuple[IOModuleSimulator, ControlClient]]:
    sim = IOModuleSimulator(BarrierWorld(rise_s=0.1, fall_s=0.1), Faults(), port=0, tick_s=0.01)
    sim.start()
    server = ControlServer(sim.routes())
    server.start()
    try:
        yield sim, ControlClient(server.url)
    finally:
        server.stop()
        sim.stop()


class TestControlRoutes:
    """The JSON routes technicians and traffic scenarios use."""

    def test_loops_and_state(self, control: tuple[IOModuleSimulator, ControlClient]) -> None:
        _sim, client = control
        state = client.post("/loops", {"arming": True})
        assert state["loops"] == {"arming": True, "safety": False}
        assert client.get("/state")["inputs"]["arming"] is True

    def test_stuck_arm_and_faults(self, control: tuple[IOModuleSimulator, ControlClient]) -> None:
        sim, client = control
        assert client.post("/stuck", {"input": "safety", "value": True})["stuck"] == {
            "safety": True
        }
        assert client.post("/arm", {"broken": True})["inputs"]["fault"] is True
        faults = client.post("/faults", {"delay_ms": 20, "drop_next": 2})["faults"]
        assert faults["delay_ms"] == 20
        assert faults["drop_next"] == 2
        assert sim.faults.delay_ms == 20


class TestControlRefusals:
    """Bad bodies get HTTP 400 naming what was wrong, and change nothing."""

    @pytest.mark.parametrize(
        ("path", "body", "message"),
        [
            ("/loops", {"arming": "yes"}, "arming: expected true, false or null"),
            ("/loops", {"door": True}, "unknown key"),
            ("/stuck", {"input": "door", "value": True}, "unknown input 'door'"),
            ("/stuck", {"input": "arming"}, "value: required"),
            ("/arm", {}, "broken: expected true or false"),
            ("/faults", {"drop_rate": 2.0}, "drop_rate must be between 0 and 1"),
            ("/faults", {"silent": "yes"}, "silent: expected bool"),
        ],
    )
    def test_bad_bodies_are_refused_with_reason(
        self,
        shared_control: tuple[IOModuleSimulator, ControlClient],
        path: str,
        body: dict[str, object],
        message: str,
    ) -> None:
        _sim, client = shared_control
        before = client.get("/state")
        with pytest.raises(ControlError, match=rf"HTTP 400.*{message}"):
            client.post(path, body)
        assert client.get("/state") == before


class TestMbpollInterop:
    """A third-party Modbus master drives the simulated module."""

    def test_mbpoll_opens_the_barrier_and_reads_the_up_limit(self) -> None:
        mbpoll = program("mbpoll")
        sim = IOModuleSimulator(BarrierWorld(rise_s=0.1, fall_s=0.1), Faults(), port=0)
        sim.start()
        try:
            port = str(sim.port)
            write = subprocess.run(
                [mbpoll, *f"-0 -m tcp -p {port} -t 0 -r 0 127.0.0.1 1".split()],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            assert write.returncode == 0, write.stdout + write.stderr
            assert "Written 1 references" in write.stdout
            assert sim.world.state()["relays"]["open_relay"] is True
            wait_until(lambda: sim.world.state()["inputs"]["up_limit"], "arm up")
            read = subprocess.run(
                [mbpoll, *f"-0 -1 -m tcp -p {port} -t 1 -r 0 -c 5 127.0.0.1".split()],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            assert read.returncode == 0, read.stdout + read.stderr
            lines = [line.split() for line in read.stdout.splitlines() if line.startswith("[")]
            assert lines == [
                ["[0]:", "0"],
                ["[1]:", "0"],
                ["[2]:", "1"],
                ["[3]:", "0"],
                ["[4]:", "0"],
            ]
        finally:
            sim.stop()


@pytest.mark.slow
class TestCommand:
    """The command prints its addresses first and stops cleanly on SIGTERM."""

    def test_prints_addresses_and_stops_on_sigterm(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "plumbing.cli", "sim", "io", "--port", "0"]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env
        ) as proc:
            try:
                modbus, url = addresses(proc, "I/O module, Modbus TCP", "control")
                assert modbus.startswith("127.0.0.1:")
                assert ControlClient(url).get("/state")["arm"]["height"] == 0.0
                proc.send_signal(signal.SIGTERM)
                out, _ = proc.communicate(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert proc.returncode == 0, out
        assert "sim_io_stopped" in out

    def test_bad_rise_time_is_refused(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "plumbing.cli", "sim", "io", "--port", "0", "--rise-s", "0"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "rise and fall times must be positive" in result.stdout
