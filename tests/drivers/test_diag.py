"""``lanewarden diag``: each check against the simulated I/O module (or a fake at the factory)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from paths import REPO

from drivers import factory
from drivers.config import OpenCVCamera, SerialDisplay
from drivers.fakes import FakeCamera, FakeDisplay
from drivers.interfaces import EventSink
from plumbing.cli import main
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator


@pytest.fixture
def sim() -> Iterator[IOModuleSimulator]:
    simulator = IOModuleSimulator(
        BarrierWorld(rise_s=0.1, fall_s=0.1), Faults(), port=0, tick_s=0.01
    )
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def lane_file(tmp_path: Path, port: int) -> Path:
    """A copy of the shipped riverside-entry lane whose I/O module is on ``port``."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    path = tmp_path / "config" / "lanes" / "riverside-entry.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^port = 5020$", f"port = {port}", text), encoding="utf-8")
    return path


def diag(path: Path, *args: str) -> int:
    return main(["diag", "--config", str(path), *args])


class TestDiagIO:
    """Loops and barrier checks against the simulated I/O module."""

    def test_loops_and_barrier_pass(
        self, sim: IOModuleSimulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        sim.world.set_loops(arming=True)
        code = diag(lane_file(tmp_path, sim.port), "--check", "loops,barrier", "--watch", "0.5")
        out = capfd.readouterr().out
        assert code == 0, out
        assert "arming loop occupied" in out
        assert "PASS loops: read live for 0.5 s, 1 change(s); arming occupied, safety free" in out
        assert re.search(r"PASS barrier: rose in \d\.\d\d s and fell in \d\.\d\d s", out), out
        assert sim.world.state()["inputs"]["down_limit"] is True

    def test_barrier_not_closed_on_occupied_safety_loop(
        self, sim: IOModuleSimulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        sim.world.set_loops(safety=True)
        code = diag(lane_file(tmp_path, sim.port), "--check", "barrier")
        out = capfd.readouterr().out
        assert code == 1
        assert "but the safety loop is occupied: not closing (the barrier is left open)" in out
        assert sim.world.state()["inputs"]["up_limit"] is True

    def test_broken_arm_fails_with_the_fault(
        self, sim: IOModuleSimulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        sim.world.set_broken(True)
        code = diag(lane_file(tmp_path, sim.port), "--check", "barrier")
        assert code == 1
        assert "FAIL barrier: barrier: barrier fault input is on" in capfd.readouterr().out

    def test_module_not_answering(
        self, sim: IOModuleSimulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        path = lane_file(tmp_path, sim.port)
        sim.stop()
        code = diag(path, "--check", "loops", "--watch", "1")
        out = capfd.readouterr().out
        assert code == 1
        assert f"FAIL loops: io: cannot connect to modbus tcp 127.0.0.1:{sim.port}" in out


class TestDiagCameraDisplay:
    """Camera and display checks, with fakes plugged in at the factory."""

    def test_frame_saved(
        self,
        sim: IOModuleSimulator,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        camera = FakeCamera(size=(48, 64))
        camera.show(np.full((48, 64, 3), 200, dtype=np.uint8))
        monkeypatch.setitem(factory.CAMERAS, OpenCVCamera, lambda _config, _parts: camera)
        frame = tmp_path / "frame.png"
        code = diag(lane_file(tmp_path, sim.port), "--check", "camera", "--save-frame", str(frame))
        assert code == 0
        assert f"PASS camera: frame 64x48 saved to {frame}" in capfd.readouterr().out
        assert frame.stat().st_size > 0

    def test_dark_camera_fails_with_reason(
        self,
        sim: IOModuleSimulator,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        class CoveredCamera(FakeCamera):
            def start(self, sink: EventSink) -> None:
                super().start(sink)
                self.go_dark("lens covered")

        monkeypatch.setitem(factory.CAMERAS, OpenCVCamera, lambda _config, _parts: CoveredCamera())
        code = diag(lane_file(tmp_path, sim.port), "--check", "camera")
        assert code == 1
        assert "FAIL camera: camera: lens covered" in capfd.readouterr().out

    def test_message_shown(
        self,
        sim: IOModuleSimulator,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        display = FakeDisplay()
        monkeypatch.setitem(factory.DISPLAYS, SerialDisplay, lambda _config, _parts: display)
        code = diag(lane_file(tmp_path, sim.port), "--check", "display", "--message", "HELLO")
        assert code == 0
        assert "PASS display: showing 'HELLO'" in capfd.readouterr().out
        assert display.shown == [("HELLO",)]

    def test_missing_driver_is_a_fail_naming_it(
        self,
        sim: IOModuleSimulator,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.delitem(factory.CAMERAS, OpenCVCamera)
        code = diag(lane_file(tmp_path, sim.port), "--check", "camera")
        assert code == 1
        assert "FAIL camera: camera: no driver for type 'opencv' in this build" in (
            capfd.readouterr().out
        )


class TestDiagArguments:
    """Bad arguments and bad configs are refused with a message naming them."""

    def test_unknown_check(self, capfd: pytest.CaptureFixture[str]) -> None:
        lane = REPO / "config" / "lanes" / "riverside-entry.toml"
        assert diag(lane, "--check", "loops,door") == 2
        assert "--check: unknown check(s) ['door']" in capfd.readouterr().out

    def test_bad_watch(self, capfd: pytest.CaptureFixture[str]) -> None:
        lane = REPO / "config" / "lanes" / "riverside-entry.toml"
        assert diag(lane, "--watch", "0") == 2
        assert "--watch: must be positive" in capfd.readouterr().out

    def test_bad_config(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        path = lane_file(tmp_path, 5020)
        path.write_text(path.read_text(encoding="utf-8").replace('type = "io"', 'type = "iox"', 1))
        assert diag(path) == 2
        assert "barrier" in capfd.readouterr().out
