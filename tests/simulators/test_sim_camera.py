"""The camera simulator: an MJPEG stream OpenCV opens, showing plates while vehicles are present."""

from __future__ import annotations

import csv
import queue
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from structlog.testing import capture_logs

from drivers.config import OpenCVCamera
from drivers.interfaces import DeviceEvent, DeviceFault, DeviceRecovered
from drivers.opencv_camera import RECOVERY_FRAMES, OpenCVCameraDriver
from simulators.camera import CameraSimulator, LaneScene
from simulators.control import ControlClient, ControlError
from simulators.plate_font import BUNDLED_FONT
from simulators.plate_render import GlyphMissingError, render_plate
from simulators.testing import addresses

WAIT_S = 10.0
BLUE_BGR = np.array([181, 72, 0])


@pytest.fixture
def sim() -> Iterator[CameraSimulator]:
    simulator = CameraSimulator(fps=20)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def capture(sim: CameraSimulator) -> Iterator[cv2.VideoCapture]:
    cap = cv2.VideoCapture(sim.stream_url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 3000])
    yield cap
    cap.release()


def plate_region(frame: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    x, y, width, height = LaneScene().plate_box()
    return frame[y : y + height, x : x + width]


def blue_share(region: np.ndarray) -> float:  # type: ignore[type-arg]
    return float((np.abs(region.astype(np.int16) - BLUE_BGR).sum(axis=2) < 90).mean())


def read_until(cap: cv2.VideoCapture, wanted: float, at_least: bool) -> np.ndarray:  # type: ignore[type-arg]
    """Read frames until the plate region's blue share passes ``wanted`` (bounded)."""
    for _ in range(60):
        ok, frame = cap.read()
        assert ok, "the stream stopped"
        share = blue_share(plate_region(frame))
        if (share >= wanted) if at_least else (share < wanted):
            return frame
    pytest.fail(f"no frame with a plate blue share {'>=' if at_least else '<'} {wanted}")


class TestStream:
    """OpenCV opens the stream; a vehicle's plate is in the frame while it is present."""

    def test_videocapture_reads_frames(self, capture: cv2.VideoCapture) -> None:
        assert capture.isOpened()
        ok, frame = capture.read()
        assert ok
        assert frame.shape == (480, 640, 3)

    def test_plate_visible_only_while_vehicle_present(
        self, sim: CameraSimulator, capture: cv2.VideoCapture
    ) -> None:
        empty = read_until(capture, 0.05, at_least=False)
        control = ControlClient(sim.control_url)
        answer = control.post("/vehicle", {"plate": "皖A12345"})
        assert answer["vehicle"] == {"plate": "皖A12345", "source": "rendered", "unreadable": False}
        with_plate = read_until(capture, 0.4, at_least=True)
        diff = np.abs(plate_region(with_plate).astype(np.int16) - plate_region(empty)).mean()
        assert diff > 30
        control.call("DELETE", "/vehicle")
        read_until(capture, 0.05, at_least=False)
        assert control.get("/state")["vehicle"] is None

    def test_snapshot_is_one_jpeg(self, sim: CameraSimulator) -> None:
        with urllib.request.urlopen(
            sim.stream_url.replace("stream.mjpg", "snapshot.jpg"), timeout=WAIT_S
        ) as reply:
            assert reply.headers["Content-Type"] == "image/jpeg"
            data = reply.read()
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (480, 640, 3)

    def test_no_snapshot_while_dark(self, sim: CameraSimulator) -> None:
        ControlClient(sim.control_url).post("/dark", {"dark": True})
        url = sim.stream_url.replace("stream.mjpg", "snapshot.jpg")
        with pytest.raises(urllib.error.HTTPError, match="503"):
            urllib.request.urlopen(url, timeout=WAIT_S)

    def test_stream_opened_while_dark_gets_no_stale_frame(self, sim: CameraSimulator) -> None:
        ControlClient(sim.control_url).post("/dark", {"dark": True})
        with (
            urllib.request.urlopen(sim.stream_url, timeout=1.0) as reply,
            pytest.raises(TimeoutError),
        ):
            reply.read(1)

    def test_ports_in_use_are_refused_and_released(self, sim: CameraSimulator) -> None:
        port = int(sim.control_url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match="Address already in use"):
            CameraSimulator(control_port=port)

    def test_black_frames_when_dark_black(
        self, sim: CameraSimulator, capture: cv2.VideoCapture
    ) -> None:
        ControlClient(sim.control_url).post("/dark", {"dark": True, "mode": "black"})
        for _ in range(60):
            ok, frame = capture.read()
            assert ok
            if frame.mean() < 2:
                return
        pytest.fail("no black frame while dark")

    def test_images_folder_picks_the_labelled_plate(self, tmp_path: Path) -> None:
        for name, plate in (("a.png", "皖A11111"), ("b.png", "沪C22222")):
            cv2.imwrite(str(tmp_path / name), render_plate(plate))
        with (tmp_path / "labels.csv").open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(
                [["file", "plate"], ["a.png", "皖A11111"], ["b.png", "沪C22222"]]
            )
        simulator = CameraSimulator(images=tmp_path, seed=1)
        simulator.start()
        try:
            control = ControlClient(simulator.control_url)
            picked = control.post("/vehicle", {"plate": "沪C22222"})["vehicle"]
            assert picked["source"] == str(tmp_path / "b.png")
            unknown = control.post("/vehicle", {"plate": "京A99999"})["vehicle"]
            assert unknown["source"] == "rendered"
            anyone = control.post("/vehicle", {})["vehicle"]
            assert anyone["plate"] in {"皖A11111", "沪C22222"}
            by_path = control.post("/vehicle", {"image": str(tmp_path / "a.png")})["vehicle"]
            assert by_path["plate"] == "皖A11111"  # labelled by the labels.csv beside it
        finally:
            simulator.stop()

    def test_command_prints_stream_url_first_and_stops_on_sigterm(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plumbing.cli", "sim", "camera", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            stream, control = addresses(proc, "camera stream (MJPEG)", "control")
            assert stream.startswith("http://127.0.0.1:")
            assert stream.endswith("/stream.mjpg")
            assert ControlClient(control).get("/state")["vehicle"] is None
            cap = cv2.VideoCapture(stream, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 3000])
            try:
                assert cap.read()[0]
            finally:
                cap.release()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=WAIT_S) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


class TestControlErrors:
    """Bad control requests are refused with a message naming the key."""

    @pytest.mark.parametrize(
        ("path", "body", "message"),
        [
            ("/vehicle", {"plate": 12}, "plate: expected a non-empty string"),
            ("/vehicle", {"plat": "A1"}, "unknown key 'plat'"),
            (
                "/vehicle",
                {"image": "/nonexistent/car.jpg"},
                "image /nonexistent/car.jpg: cannot read",
            ),
            ("/vehicle", {"unreadable": "yes"}, "unreadable: expected true or false"),
            ("/dark", {"dark": "on"}, "dark: expected true or false"),
            ("/dark", {"dark": True, "mode": "grey"}, "mode: expected 'none' or 'black'"),
            ("/faults", {"drop_rate": 2}, "drop_rate must be between 0 and 1"),
        ],
    )
    def test_refused(
        self, sim: CameraSimulator, path: str, body: dict[str, object], message: str
    ) -> None:
        with pytest.raises(ControlError, match="HTTP 400") as err:
            ControlClient(sim.control_url).post(path, body)
        assert message in str(err.value)

    def test_images_must_be_a_folder_of_images(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"no \.jpg or \.png images"):
            CameraSimulator(images=tmp_path)
        with pytest.raises(ValueError, match="not a folder"):
            CameraSimulator(images=tmp_path / "missing")


class TestPlateRendering:
    """Plates render from text with the bundled font; a character it lacks is named."""

    def test_chinese_plate_is_blue_with_white_text(self) -> None:
        plate = render_plate("皖A12345", height=70)
        assert plate.shape[0] == 70
        assert plate.shape[1] == 220
        assert blue_share(plate) > 0.5
        assert (plate.min(axis=2) > 200).mean() > 0.05  # white characters

    def test_other_plate_is_black_on_white(self) -> None:
        plate = render_plate("7ABC123", height=60)
        assert (plate.min(axis=2) > 200).mean() > 0.5
        assert (plate.max(axis=2) < 60).mean() > 0.05

    def test_empty_plate_refused(self) -> None:
        with pytest.raises(ValueError, match="plate text is empty"):
            render_plate("  ")

    def test_character_the_bundled_font_lacks_is_named(self) -> None:
        with pytest.raises(GlyphMissingError, match=r"no 甲.*--font FILE"):
            render_plate("甲A12345")

    def test_given_font_draws_any_character(self) -> None:
        assert np.array_equal(render_plate("皖A12345", font=BUNDLED_FONT), render_plate("皖A12345"))
        assert render_plate("甲A12345", font=BUNDLED_FONT).shape == (70, 220, 3)  # not checked

    def test_bad_font_refused(self, tmp_path: Path) -> None:
        bad = tmp_path / "not-a-font.ttf"
        bad.write_bytes(b"no font here")
        with pytest.raises(ValueError, match=r"not-a-font\.ttf: not a TrueType or OpenType font"):
            CameraSimulator(font=bad)
        with pytest.raises(OSError):  # noqa: PT011 - Pillow's own message
            render_plate("皖A12345", font=bad)


def driver(source: str, open_timeout_ms: int = 300) -> OpenCVCameraDriver:
    config = OpenCVCamera(
        type="opencv",
        source=source,
        open_timeout_ms=open_timeout_ms,
        read_timeout_ms=500,
        stale_after_ms=400,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    return OpenCVCameraDriver(config)


class TestDriverBadInput:
    """A camera that never answers, refuses, is no video, or sends garbled JPEGs is a fault, never a hang."""

    def test_url_that_never_answers(self) -> None:
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)  # accepts connections, never says a word
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/stream.mjpg"
            camera = driver(url)
            events: queue.Queue[DeviceEvent] = queue.Queue()
            with capture_logs() as logs:
                camera.start(events.put)  # returns at once: opening happens in the thread
                fault = events.get(timeout=WAIT_S)
                camera.stop()
        assert isinstance(fault, DeviceFault)
        assert f"cannot open {url} within 300 ms" in fault.reason
        assert camera.latest() is None
        downs = [line for line in logs if line["event"] == "camera_down"]
        assert downs
        assert url in downs[0]["reason"]

    def test_refused_connection(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound but not listening: connections are refused
            camera = driver(f"rtsp://user:secret@127.0.0.1:{port}/live")
            events: queue.Queue[DeviceEvent] = queue.Queue()
            camera.start(events.put)
            fault = events.get(timeout=WAIT_S)
            camera.stop()
        assert isinstance(fault, DeviceFault)
        assert "cannot open rtsp://user:***@127.0.0.1" in fault.reason
        assert "secret" not in fault.reason

    def test_url_that_is_not_a_video(self, sim: CameraSimulator) -> None:
        camera = driver(sim.control_url + "/state", open_timeout_ms=1000)
        events: queue.Queue[DeviceEvent] = queue.Queue()
        camera.start(events.put)
        fault = events.get(timeout=WAIT_S)
        camera.stop()
        assert isinstance(fault, DeviceFault)
        assert "/state" in fault.reason

    def test_one_frame_after_an_outage_is_not_a_recovery(self) -> None:
        camera = driver("/nonexistent/lane.avi")
        events: list[DeviceEvent] = []
        camera._sink = events.append  # the outage and frames are fed by hand, no thread runs
        camera._went_down("no frame for 2.0 s")
        frame = np.full((48, 64, 3), 128, dtype=np.uint8)
        camera._keep(frame)  # e.g. a stale frame a server sends on every reconnect
        assert [type(e) for e in events] == [DeviceFault]
        assert camera.latest() is None
        for _ in range(RECOVERY_FRAMES - 1):
            camera._keep(frame)
        assert [type(e) for e in events] == [DeviceFault, DeviceRecovered]
        assert camera.latest() is not None

    def test_stream_that_goes_silent(self, sim: CameraSimulator) -> None:
        camera = driver(sim.stream_url, open_timeout_ms=2000)
        events: queue.Queue[DeviceEvent] = queue.Queue()
        camera.start(events.put)
        try:
            assert camera.trigger(1), "no frame before the fault"
            ControlClient(sim.control_url).post("/faults", {"silent": True})
            fault = events.get(timeout=WAIT_S)
        finally:
            camera.stop()
        assert isinstance(fault, DeviceFault)
        assert f"no frame from {sim.stream_url}" in fault.reason

    @pytest.mark.parametrize(
        ("source", "reason"),
        [
            (
                "/nonexistent/lane.avi",
                "cannot open /nonexistent/lane.avi (no such file, or not a video)",
            ),
            ("97", "cannot open video device 97 (absent, busy, or no permission)"),
        ],
    )
    def test_missing_file_or_device(self, source: str, reason: str) -> None:
        camera = driver(source)
        events: queue.Queue[DeviceEvent] = queue.Queue()
        camera.start(events.put)
        try:
            fault = events.get(timeout=WAIT_S)
        finally:
            camera.stop()
        assert isinstance(fault, DeviceFault)
        assert fault.reason == reason

    def test_garbled_jpeg_frames_do_not_stop_the_driver(self, sim: CameraSimulator) -> None:
        ControlClient(sim.control_url).post("/faults", {"garble_rate": 1.0, "seed": 3})
        camera = driver(sim.stream_url, open_timeout_ms=2000)
        events: queue.Queue[DeviceEvent] = queue.Queue()
        camera.start(events.put)
        try:
            frames = camera.trigger(3)
            assert frames, "garbled frames stopped the stream"
            assert all(f.image.shape == (480, 640, 3) for f in frames)
        finally:
            camera.stop()
        assert sim.state()["faults"]["garble_rate"] == 1.0

    def test_video_file(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (160, 120))
        for i in range(5):
            writer.write(np.full((120, 160, 3), 60 + i * 20, dtype=np.uint8))
        writer.release()
        camera = driver(str(path))
        events: queue.Queue[DeviceEvent] = queue.Queue()
        camera.start(events.put)
        try:
            frames = camera.trigger(6)  # more frames than the file holds: it plays again
        finally:
            camera.stop()
        assert len(frames) == 6
        assert frames[0].image.shape == (120, 160, 3)
        assert events.empty()


class TestDriverTrigger:
    """A trigger hands over the frames from just before it and the next ones."""

    @pytest.mark.parametrize("before", [0, 1, 2])
    def test_frames_before_and_after(self, sim: CameraSimulator, before: int) -> None:
        config = OpenCVCamera(
            type="opencv",
            source=sim.stream_url,
            open_timeout_ms=2000,
            frames_before_trigger=before,
            trigger_wait_ms=3000,
        )
        camera = OpenCVCameraDriver(config)
        camera.start(queue.Queue().put)
        try:
            camera.trigger(before + 1)  # let the ring fill
            newest = camera.latest()
            assert newest is not None
            frames = camera.trigger(4)
        finally:
            camera.stop()
        seqs = [f.seq for f in frames]
        assert len(seqs) == 4
        assert seqs == sorted(set(seqs))
        assert sum(seq <= newest.seq for seq in seqs) == before


@pytest.mark.slow
class TestPlateReadable:
    """The lane's plate reader reads the simulator's plates through the OpenCV driver."""

    def test_reader_reads_rendered_plate_and_not_the_muddy_one(self, sim: CameraSimulator) -> None:
        from models.config import RecognitionConfig
        from models.reader import PlateReader

        reader = PlateReader(RecognitionConfig(region="cn"))
        control = ControlClient(sim.control_url)
        camera = OpenCVCameraDriver(
            OpenCVCamera(type="opencv", source=sim.stream_url, open_timeout_ms=2000)
        )
        camera.start(queue.Queue().put)
        try:
            control.post("/vehicle", {"plate": "沪C8GK31"})
            camera.trigger(4)  # frames from before the vehicle arrived leave the ring
            clean = reader.read([f.image for f in camera.trigger(2)])
            control.post("/vehicle", {"plate": "沪C8GK31", "unreadable": True})
            camera.trigger(4)
            muddy = reader.read([f.image for f in camera.trigger(2)])
        finally:
            camera.stop()
        # The text is the simulator's part; whether the reader's confidence clears the
        # lane's threshold is the reader's policy, tested with the reader.
        assert clean.text == "沪C8GK31"
        assert not muddy.accepted, f"a mud-covered plate was read as {muddy.text}"
