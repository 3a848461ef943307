"""Traffic scenarios: the file format, its errors, and runs against the simulators."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

import simulators.scenarios
from plumbing.cli import main
from simulators.camera import CameraSimulator
from simulators.control import ControlClient, ControlServer
from simulators.faults import Faults
from simulators.gateway.server import GatewayServer
from simulators.io_module import BarrierWorld, IOModuleSimulator
from simulators.scenarios import ScenarioError, builtin_names, load, parse
from simulators.testing import addresses
from simulators.traffic import Simulators, TrafficRunner, needed

REQUIRED = {
    "normal",
    "tailgate",
    "back-out",
    "loop-stuck",
    "barrier-broken",
    "camera-dark",
    "unreadable-plate",
    "burst",
}


def problems(text: str) -> str:
    with pytest.raises(ScenarioError) as err:
        parse(text, "mine.toml")
    return str(err.value)


class TestScenarioFiles:
    """Built-in scenarios load; a bad file is refused naming the step and the key."""

    def test_builtins_are_there_and_valid(self) -> None:
        assert set(builtin_names()) >= REQUIRED
        for name in builtin_names():
            loaded_name, scenario = load(name)
            assert loaded_name == name
            assert scenario.steps

    def test_readme_example_is_valid(self) -> None:
        readme = (Path(simulators.scenarios.__file__).parent / "README.md").read_text(
            encoding="utf-8"
        )
        example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
        assert len(parse(example, "README.md").steps) == 3

    def test_pay_by_plate_needs_the_gateway(self) -> None:
        assert needed(load("pay-by-plate")[1], serial_barrier=False) == {"io", "camera", "gateway"}

    def test_tailgate_needs_io_and_camera(self) -> None:
        assert needed(load("tailgate")[1], serial_barrier=False) == {"io", "camera"}
        assert needed(load("tailgate")[1], serial_barrier=True) == {"io", "camera", "barrier"}

    def test_unknown_key_names_step_and_key(self) -> None:
        text = 'description = "d"\n[[steps]]\naction = "loops"\narming = true\n[[steps]]\naction = "show_plate"\nplat = "A1"\n'
        assert "mine.toml: step 2 (show_plate): plat: Extra inputs are not permitted" in problems(
            text
        )

    def test_unknown_action_lists_the_actions(self) -> None:
        message = problems('description = "d"\n[[steps]]\naction = "fly"\n')
        assert "step 1 (fly): action: unknown action 'fly'; expected one of loops, stuck" in message

    def test_missing_action(self) -> None:
        assert "step 1: action: missing" in problems('description = "d"\n[[steps]]\nat = 1\n')

    def test_bad_value_names_the_key(self) -> None:
        message = problems(
            'description = "d"\n[[steps]]\naction = "wait_barrier"\nposition = "sideways"\n'
        )
        assert "step 1 (wait_barrier): position: Input should be 'up', 'down' or 'fault'" in message
        assert "step 1 (wait_barrier): within: Field required" in message

    def test_at_and_after_together(self) -> None:
        message = problems(
            'description = "d"\n[[steps]]\naction = "clear_plate"\nat = 1\nafter = 2\n'
        )
        assert "step 1 (clear_plate): " in message
        assert "give either 'at' or 'after', not both" in message

    def test_loops_step_must_set_a_loop(self) -> None:
        assert "give 'arming' or 'safety'" in problems(
            'description = "d"\n[[steps]]\naction = "loops"\n'
        )

    def test_not_toml(self) -> None:
        assert "mine.toml: not valid TOML" in problems("description = \n")

    def test_top_level_keys(self) -> None:
        message = problems('descr = "d"\n')
        assert "mine.toml: description: Field required" in message
        assert "mine.toml: descr: Extra inputs are not permitted" in message

    def test_unknown_name_lists_builtins(self) -> None:
        with pytest.raises(ScenarioError, match=r"no scenario 'tailgait'; built in: .*tailgate"):
            load("tailgait")

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError, match="no such scenario file"):
            load(str(tmp_path / "mine.toml"))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(["sim", "traffic", *argv])
    finally:
        structlog.reset_defaults()  # main() pointed logging at this test's captured stderr
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestCommand:
    """`lanewarden sim traffic` runs to the end on its own, and fails clearly."""

    def test_tailgate_alone_runs_to_the_end(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run_cli(["--scenario", "tailgate", "--speed", "20"], capsys)
        assert code == 0
        steps = len(load("tailgate")[1].steps)
        for number in range(1, steps + 1):
            assert f"{number:>2}/{steps}  " in out
        assert "show_plate plate=沪C8GK31" in out
        assert "NOT MET: barrier down" in out  # no lane is connected
        assert f"tailgate: {steps} of {steps} steps" in out

    @pytest.mark.slow
    def test_in_process_simulators_are_announced_before_any_log_line(self) -> None:
        command = [sys.executable, "-m", "plumbing.cli", "sim", "traffic", "--scenario", "tailgate"]
        proc = subprocess.Popen(
            [*command, "--speed", "20"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            stream, modbus = addresses(
                proc,
                "camera stream (MJPEG, in this process)",
                "I/O module, Modbus TCP (in this process)",
            )
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, out
        assert stream.startswith("http://127.0.0.1:")
        assert stream.endswith("/stream.mjpg")
        assert modbus.startswith("127.0.0.1:")
        steps = len(load("tailgate")[1].steps)
        assert f"tailgate: {steps} of {steps} steps" in out

    def test_expectation_marked_fail_exits_1(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "strict.toml"
        path.write_text(
            'description = "d"\n[[steps]]\naction = "loops"\narming = true\n'
            '[[steps]]\naction = "wait_barrier"\nposition = "up"\nwithin = 0.2\non_timeout = "fail"\n',
            encoding="utf-8",
        )
        code, out, _ = run_cli(["--scenario", str(path)], capsys)
        assert code == 1
        # The time is measured: a loaded machine may print a little more than 0.2 s.
        assert re.search(r"NOT MET: barrier down after 0\.[2-9] s", out)

    def test_invalid_scenario_file_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "bad.toml"
        path.write_text('description = "d"\n[[steps]]\naction = "show_plate"\nplat = "A"\n')
        code, _, err = run_cli(["--scenario", str(path)], capsys)
        assert code == 2
        assert f"{path}: step 1 (show_plate): plat: Extra inputs are not permitted" in err

    def test_unreachable_simulator_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        dead = "http://127.0.0.1:9"
        code, _, err = run_cli(["--scenario", "normal", "--io", dead, "--camera", dead], capsys)
        assert code == 2
        assert (
            "cannot reach the camera simulator (lanewarden sim camera) at http://127.0.0.1:9" in err
        )

    def test_wrong_kind_of_simulator_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        impostor = ControlServer({"GET /state": lambda _: {"inputs": {}}})
        impostor.start()
        try:
            code, _, err = run_cli(
                ["--scenario", "unreadable-plate", "--io", impostor.url, "--camera", impostor.url],
                capsys,
            )
        finally:
            impostor.stop()
        assert code == 2
        assert "does not look like the camera simulator" in err
        assert "no 'stream_url'" in err

    def test_serial_barrier_steps_need_a_barrier_url(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "serial.toml"
        path.write_text(
            'description = "d"\n[[steps]]\naction = "barrier_report"\nsignal = "obstacle"\n'
        )
        code, _, err = run_cli(["--scenario", str(path)], capsys)
        assert code == 2
        assert "give --barrier URL" in err

    def test_refused_step_exits_1_naming_the_step(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "noimage.toml"
        path.write_text(
            'description = "d"\n[[steps]]\naction = "show_plate"\nimage = "/nonexistent/car.jpg"\n'
        )
        code, _, err = run_cli(["--scenario", str(path)], capsys)
        assert code == 1
        assert "step 1 (show_plate) failed" in err
        assert "image /nonexistent/car.jpg: cannot read" in err

    def test_typed_plate_steps_need_a_gateway_url(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, _, err = run_cli(["--scenario", "pay-by-plate"], capsys)
        assert code == 2
        assert "give --gateway URL" in err

    def test_list(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run_cli(["--list"], capsys)
        assert code == 0
        assert "tailgate: Two cars nose to tail" in out


class LaneStandIn:
    """Just enough of a lane to meet the expectations: opens for a vehicle, closes behind it."""

    def __init__(self, world: BarrierWorld) -> None:
        self.world = world
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lane-stand-in")

    def __enter__(self) -> LaneStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            state = self.world.state()
            loops, inputs = state["loops"], state["inputs"]
            if loops["arming"] and inputs["down_limit"]:
                self._pulse(self.world.map.open_relay)
            elif not loops["arming"] and not loops["safety"] and inputs["up_limit"]:
                self._pulse(self.world.map.close_relay)

    def _pulse(self, coil: int) -> None:
        self.world.write_coils(coil, [True])
        self.world.write_coils(coil, [False])


@pytest.fixture
def lane_sims() -> Iterator[tuple[BarrierWorld, dict[str, str]]]:
    world = BarrierWorld(rise_s=0.1, fall_s=0.1)
    io_sim = IOModuleSimulator(world, Faults(), port=0)
    io_sim.start()
    io_control = ControlServer(io_sim.routes())
    io_control.start()
    camera = CameraSimulator()
    camera.start()
    gateway = GatewayServer(secret=b"traffic-test", merchant_id="m-traffic")
    gateway.start()
    try:
        yield (
            world,
            {
                "io": io_control.url,
                "camera": camera.control_url,
                "gateway": gateway.url + "/_sim",
            },
        )
    finally:
        gateway.stop()
        camera.stop()
        io_control.stop()
        io_sim.stop()


def all_sims(urls: dict[str, str]) -> Simulators:
    return Simulators(
        {
            "io": ControlClient(urls["io"]),
            "camera": ControlClient(urls["camera"]),
            "gateway": ControlClient(urls["gateway"]),
        }
    )


class TestRunner:
    """The runner plays steps in order and checks the barrier against the expectations."""

    def test_normal_passage_meets_expectations_with_a_lane(
        self, lane_sims: tuple[BarrierWorld, dict[str, str]]
    ) -> None:
        world, urls = lane_sims
        sims = Simulators(
            {"io": ControlClient(urls["io"]), "camera": ControlClient(urls["camera"])}
        )
        out = io.StringIO()
        with LaneStandIn(world):
            result = TrafficRunner("normal", load("normal")[1], sims, out=out, speed=4).run()
        assert result.steps == len(load("normal")[1].steps)
        assert (result.met, result.missed, result.failed) == (2, 0, False)
        assert "met: barrier up" in out.getvalue()
        assert world.state()["loops"] == {"arming": False, "safety": False}

    @pytest.mark.parametrize("name", builtin_names())
    def test_every_builtin_runs_to_the_end(
        self, name: str, lane_sims: tuple[BarrierWorld, dict[str, str]]
    ) -> None:
        _, urls = lane_sims
        scenario = load(name)[1]
        result = TrafficRunner(name, scenario, all_sims(urls), out=io.StringIO(), speed=30).run()
        assert result.steps == len(scenario.steps)
        assert not result.failed

    def test_typed_plate_reaches_the_gateway(
        self, lane_sims: tuple[BarrierWorld, dict[str, str]]
    ) -> None:
        _, urls = lane_sims
        out = io.StringIO()
        TrafficRunner(
            "pay-by-plate", load("pay-by-plate")[1], all_sims(urls), out=out, speed=30
        ).run()
        (typed,) = ControlClient(urls["gateway"]).get("/state")["plate_orders"]
        assert (typed["lane_id"], typed["plate"], typed["pay"]) == (
            "riverside-exit",
            "皖A12345",
            True,
        )
        assert (
            f"plate order {typed['plate_order_id']} for 皖A12345 at the gateway" in out.getvalue()
        )

    def test_barrier_broken_reads_the_fault_input(
        self, lane_sims: tuple[BarrierWorld, dict[str, str]]
    ) -> None:
        world, urls = lane_sims
        sims = Simulators(
            {"io": ControlClient(urls["io"]), "camera": ControlClient(urls["camera"])}
        )
        result = TrafficRunner(
            "barrier-broken", load("barrier-broken")[1], sims, out=io.StringIO(), speed=10
        ).run()
        assert (result.met, result.missed) == (2, 0)
        assert world.state()["arm"]["broken"] is False  # repaired at the end

    def test_serial_barrier_reports_and_position(self) -> None:
        received: list[dict[str, Any]] = []

        def event(body: dict[str, Any]) -> dict[str, Any]:
            received.append(body)
            return {"position": "down"}

        barrier = ControlServer(
            {"GET /state": lambda _: {"position": "down"}, "POST /event": event}
        )
        barrier.start()
        try:
            scenario = parse(
                'description = "d"\n[[steps]]\naction = "barrier_report"\nsignal = "vehicle_passed"\n'
                '[[steps]]\naction = "wait_barrier"\nposition = "down"\nwithin = 1\n',
                "serial.toml",
            )
            sims = Simulators({"barrier": ControlClient(barrier.url)})
            sims.check()
            result = TrafficRunner("serial", scenario, sims, out=io.StringIO()).run()
        finally:
            barrier.stop()
        assert received == [{"code": "P"}]
        assert result.met == 1

    def test_stop_interrupts_a_wait(self, lane_sims: tuple[BarrierWorld, dict[str, str]]) -> None:
        _, urls = lane_sims
        stop = threading.Event()
        stop.set()
        sims = Simulators(
            {"io": ControlClient(urls["io"]), "camera": ControlClient(urls["camera"])}
        )
        result = TrafficRunner(
            "normal", load("normal")[1], sims, out=io.StringIO(), stop=stop
        ).run()
        assert result.interrupted
        assert result.steps < len(load("normal")[1].steps)

    def test_speed_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="speed must be positive"):
            TrafficRunner("normal", load("normal")[1], Simulators(), out=io.StringIO(), speed=0)
