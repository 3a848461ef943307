"""The Camera contract, run against every implementation.

Each rig pairs a camera with the world in front of it: the in-memory fake with
its test knobs, and the OpenCV driver reading the camera simulator's MJPEG
stream over HTTP on loopback.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from drivers.config import OpenCVCamera
from drivers.fakes import FakeCamera
from drivers.interfaces import Camera, DeviceEvent, DeviceFault, DeviceRecovered
from drivers.opencv_camera import OpenCVCameraDriver
from simulators.camera import CameraSimulator
from simulators.control import ControlClient
from simulators.plate_render import render_plate

WAIT_S = 10.0  # a bound against hanging, never a speed requirement


@dataclass
class Rig:
    camera: Camera
    events: queue.Queue[DeviceEvent]
    go_dark: Callable[[], None]
    light_up: Callable[[], None]
    show_vehicle: Callable[[], None]


def opencv_rig() -> Iterator[Rig]:
    sim = CameraSimulator(fps=20)
    sim.start()
    control = ControlClient(sim.control_url)
    config = OpenCVCamera(
        type="opencv",
        source=sim.stream_url,
        open_timeout_ms=1000,
        read_timeout_ms=1000,
        stale_after_ms=400,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
        trigger_wait_ms=2000,
    )
    camera = OpenCVCameraDriver(config)
    events: queue.Queue[DeviceEvent] = queue.Queue()
    camera.start(events.put)
    try:
        yield Rig(
            camera=camera,
            events=events,
            go_dark=lambda: control.post("/dark", {"dark": True}),
            light_up=lambda: control.post("/dark", {"dark": False}),
            show_vehicle=lambda: control.post("/vehicle", {"plate": "皖A12345"}),
        )
    finally:
        camera.stop()
        sim.stop()


def fake_rig() -> Iterator[Rig]:
    camera = FakeCamera()
    events: queue.Queue[DeviceEvent] = queue.Queue()
    camera.start(events.put)
    scene = np.zeros((480, 640, 3), dtype=np.uint8)
    plate = render_plate("皖A12345", height=56)
    scene[330 : 330 + plate.shape[0], 200 : 200 + plate.shape[1]] = plate
    try:
        yield Rig(
            camera=camera,
            events=events,
            go_dark=camera.go_dark,
            light_up=camera.light_up,
            show_vehicle=lambda: camera.show(scene),
        )
    finally:
        camera.stop()


RIGS = {"fake": fake_rig, "opencv": opencv_rig}


@pytest.fixture(params=sorted(RIGS))
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    yield from RIGS[request.param]()


def wait_latest(camera: Camera) -> None:
    for _ in range(10):
        if camera.latest() is not None:
            return
        camera.trigger(1)  # waits (a bounded time) for the next frame
    assert camera.latest() is not None, "the camera produced no frame"


def next_event(events: queue.Queue[DeviceEvent]) -> DeviceEvent:
    return events.get(timeout=WAIT_S)


class TestCameraContract:
    """A camera keeps its newest frames, hands frames to a trigger, and reports going down."""

    def test_is_a_camera(self, rig: Rig) -> None:
        assert isinstance(rig.camera, Camera)

    def test_latest_is_a_colour_image(self, rig: Rig) -> None:
        wait_latest(rig.camera)
        frame = rig.camera.latest()
        assert frame is not None
        assert frame.image.dtype == np.uint8
        assert frame.image.ndim == 3
        assert frame.image.shape[2] == 3

    def test_trigger_returns_ordered_fresh_frames(self, rig: Rig) -> None:
        wait_latest(rig.camera)
        before = rig.camera.latest()
        assert before is not None
        frames = rig.camera.trigger(3)
        assert 2 <= len(frames) <= 3
        seqs = [f.seq for f in frames]
        assert seqs == sorted(set(seqs))  # oldest first, no frame twice
        assert seqs[0] >= before.seq  # nothing older than the newest frame at the trigger
        assert seqs[-1] > before.seq  # and a frame taken after it

    def test_trigger_sees_the_vehicle(self, rig: Rig) -> None:
        wait_latest(rig.camera)
        empty = rig.camera.trigger(1)[0].image.astype(np.int16)
        rig.show_vehicle()
        changed = False
        for _ in range(20):
            frames = rig.camera.trigger(1)
            diff = np.abs(frames[0].image.astype(np.int16) - empty) if frames else empty * 0
            if (diff.max(axis=2) > 40).mean() > 0.01:  # over 1 % of the picture changed
                changed = True
                break
        assert changed, "no frame showed the vehicle"

    def test_dark_camera_is_a_fault_then_recovers(self, rig: Rig) -> None:
        wait_latest(rig.camera)
        rig.go_dark()
        fault = next_event(rig.events)
        assert isinstance(fault, DeviceFault)
        assert fault.device == rig.camera.name
        assert fault.reason
        assert rig.camera.latest() is None
        assert rig.camera.trigger(2) == []
        rig.light_up()
        assert isinstance(next_event(rig.events), DeviceRecovered)
        wait_latest(rig.camera)

    def test_stop_is_clean_and_repeatable(self, rig: Rig) -> None:
        wait_latest(rig.camera)
        rig.camera.stop()
        rig.camera.stop()
