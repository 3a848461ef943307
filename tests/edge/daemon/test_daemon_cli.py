"""``lanewarden edge run``: bad configuration and missing devices fail at start, named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.commands.edge_run import EXIT_CONFIG, EXIT_FAILED
from edge.daemon.testing import PAYMENTS_QR, lane_files
from plumbing.cli import main
from plumbing.testing import free_port
from simulators.camera import CameraSimulator
from simulators.faults import Faults
from simulators.io_module import BarrierWorld, IOModuleSimulator


@pytest.fixture
def camera() -> Iterator[CameraSimulator]:
    sim = CameraSimulator(port=0, fps=5.0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def io_module() -> Iterator[IOModuleSimulator]:
    sim = IOModuleSimulator(BarrierWorld(), Faults(), port=0)
    sim.start()
    yield sim
    sim.stop()


def devices(io_address: str, camera_url: str, barrier: str = '[barrier]\ntype = "io"\n') -> str:
    host, port = io_address.rsplit(":", 1)
    return (
        f'[io]\ntype = "modbus_tcp"\nhost = "{host}"\nport = {port}\n\n{barrier}\n'
        f'[loops]\ntype = "io"\n\n[camera]\ntype = "opencv"\nsource = "{camera_url}"\n'
    )


def edge_run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--log-level", "error", "edge", "run", "--config", str(path)])
    return code, capsys.readouterr().err


class TestBadConfig:
    """An invalid lane file exits with EX_CONFIG, naming the file and the key."""

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, err = edge_run(tmp_path / "nope.toml", capsys)
        assert code == EXIT_CONFIG
        assert "nope.toml: file not found" in err

    def test_misspelt_payments_key(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        extra = '\n[payments.policy]\nmethodz = ["qr"]\n'
        code, err = edge_run(lane_files(tmp_path, extra=extra), capsys)
        assert code == EXIT_CONFIG
        assert "payments.policy.methodz: unknown key" in err

    def test_qr_without_a_gateway(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        extra = '\n[payments.policy]\nmethods = ["qr"]\n'
        code, err = edge_run(lane_files(tmp_path, extra=extra), capsys)
        assert code == EXIT_CONFIG
        assert "payments.gateway: required when payments.policy.methods has qr" in err

    def test_bad_degraded_outcome(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        extra = '\n[degraded]\ncamera_dark = "open_anyway"\n'
        code, err = edge_run(lane_files(tmp_path, extra=extra), capsys)
        assert code == EXIT_CONFIG
        assert "degraded.camera_dark" in err


class TestMissingDevices:
    """A device that is not there fails the start with a message naming it."""

    def test_io_module_not_answering(
        self, tmp_path: Path, camera: CameraSimulator, capsys: pytest.CaptureFixture[str]
    ) -> None:
        lane = lane_files(tmp_path, devices=devices(f"127.0.0.1:{free_port()}", camera.stream_url))
        code, err = edge_run(lane, capsys)
        assert code == EXIT_FAILED
        assert "lane riverside-exit cannot start: io: cannot connect to" in err

    def test_camera_not_there(
        self, tmp_path: Path, io_module: IOModuleSimulator, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
        code, err = edge_run(lane_files(tmp_path, devices=devices(io_module.address, url)), capsys)
        assert code == EXIT_FAILED
        assert "cannot start: camera:" in err

    def test_serial_barrier_port_missing(
        self,
        tmp_path: Path,
        io_module: IOModuleSimulator,
        camera: CameraSimulator,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        barrier = (
            '[barrier]\ntype = "serial"\nport = "/dev/lanewarden-no-such-port"\naddress = "01"\n'
        )
        lane = lane_files(tmp_path, devices=devices(io_module.address, camera.stream_url, barrier))
        code, err = edge_run(lane, capsys)
        assert code == EXIT_FAILED
        assert "cannot start: barrier:" in err
        assert "/dev/lanewarden-no-such-port" in err

    def test_gateway_extra_does_not_hide_devices(
        self, tmp_path: Path, camera: CameraSimulator, capsys: pytest.CaptureFixture[str]
    ) -> None:
        extra = PAYMENTS_QR.format(postpay="never", gateway="http://127.0.0.1:9")
        lane = lane_files(
            tmp_path,
            devices=devices(f"127.0.0.1:{free_port()}", camera.stream_url),
            extra=extra,
        )
        code, err = edge_run(lane, capsys)
        assert code == EXIT_FAILED
        assert "io: cannot connect" in err
