"""A lane camera on a real HTTP MJPEG stream, for the OpenCV driver and for technicians.

``GET /stream.mjpg`` serves ``multipart/x-mixed-replace`` JPEG frames (what IP
cameras serve and what OpenCV's FFmpeg backend opens); ``GET /snapshot.jpg``
serves one frame. The scene is an empty lane, or a vehicle with its plate while
one is present. A plate comes from a folder of real plate or vehicle images
(``labels.csv`` with ``file,plate`` picks the image of a given plate) or is
rendered from text.

The control endpoint (see :mod:`simulators.control`) acts on the scene:

- ``GET /state``
- ``POST /vehicle {"plate"?: str, "image"?: path, "unreadable"?: bool}``: a
  vehicle arrives; ``unreadable`` smears its plate with dirt
- ``DELETE /vehicle`` or ``POST /vehicle/clear``: it leaves
- ``POST /dark {"dark": bool, "mode"?: "none" | "black"}``: the camera goes
  dark: no frames at all (``none``, the default) or black frames
- ``POST /faults {"delay_ms"?, "drop_rate"?, "garble_rate"?, "silent"?, "seed"?}``:
  frames delayed, dropped, garbled (a flipped bit in the JPEG), or none
"""

from __future__ import annotations

import csv
import random
import string
import threading
import time
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from plumbing import log
from simulators.control import ControlServer
from simulators.fault_route import changed_faults
from simulators.faults import Faults
from simulators.plate_render import check_font, render_plate
from simulators.route_fields import bool_field, only_keys

logger = log.get(__name__)

Image = npt.NDArray[np.uint8]
DarkMode = Literal["none", "black"]

WIDTH, HEIGHT = 640, 480
PLATE_HEIGHT = 56
BOUNDARY = "lanewardenframe"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_CHARS = PLATE_LETTERS + string.digits


@dataclass(frozen=True)
class Vehicle:
    """What stands in front of the camera: a plate crop on a drawn car, or a whole photo."""

    plate: str | None
    source: str
    image: Image
    is_plate_crop: bool
    unreadable: bool = False

    def describe(self) -> dict[str, Any]:
        return {"plate": self.plate, "source": self.source, "unreadable": self.unreadable}


def read_image(path: Path) -> Image:
    """Read an image file as BGR, or ValueError naming the file."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ValueError(f"image {path}: cannot read: {exc.strerror}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"image {path}: not a readable image")
    return np.asarray(image, dtype=np.uint8)


def looks_like_plate(image: Image) -> bool:
    """A plate crop is wide and short; anything else is a vehicle or scene photo."""
    height, width = image.shape[:2]
    return bool(width >= 1.8 * height and height <= 240)


class PlateImages:
    """A folder of plate or vehicle images, labelled by its ``labels.csv`` when there is one."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ValueError(f"--images {folder}: not a folder")
        self.folder = folder
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"--images {folder}: no .jpg or .png images in it")
        self.labels = read_labels(folder)

    def by_plate(self, plate: str) -> Path | None:
        wanted = normalise(plate)
        for name, label in sorted(self.labels.items()):
            if normalise(label) == wanted and (self.folder / name).is_file():
                return self.folder / name
        return None

    def any(self, rng: random.Random) -> tuple[Path, str | None]:
        path = rng.choice(self.files)
        return path, self.labels.get(path.name)


def read_labels(folder: Path) -> dict[str, str]:
    """File name -> plate from the folder's ``labels.csv`` (``file,plate,...``), if it has one."""
    path = folder / "labels.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {
            row["file"]: row["plate"]
            for row in csv.DictReader(f)
            if row.get("file") and row.get("plate")
        }


def normalise(plate: str) -> str:
    return "".join(c for c in plate.upper() if c not in " ·-")


def random_plate(rng: random.Random) -> str:
    return "皖" + rng.choice(PLATE_LETTERS) + "".join(rng.choice(PLATE_CHARS) for _ in range(5))


class LaneScene:
    """Draws the lane as the camera above the barrier sees it."""

    def __init__(self) -> None:
        self._empty = self._draw_empty()

    @property
    def empty(self) -> Image:
        return self._empty

    def plate_box(self) -> tuple[int, int, int, int]:
        """Where a plate crop is pasted (x, y, width, height) for a 440x140 mm plate."""
        width = round(PLATE_HEIGHT * 440 / 140)
        return (WIDTH - width) // 2, 330, width, PLATE_HEIGHT

    def render(self, vehicle: Vehicle | None, label: str) -> Image:
        if vehicle is None:
            frame = self._empty.copy()
        elif vehicle.is_plate_crop:
            frame = self._empty.copy()
            self._draw_car(frame)
            self._paste_plate(frame, vehicle.image, vehicle.unreadable)
        else:
            frame = letterbox(vehicle.image, WIDTH, HEIGHT)
            if vehicle.unreadable:
                frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), 9), dtype=np.uint8)
        cv2.putText(frame, label, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        return frame

    def _draw_empty(self) -> Image:
        frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame[:150] = (150, 140, 120)  # canopy and wall
        frame[150:] = (88, 90, 92)  # asphalt
        texture = np.random.default_rng(7).integers(-6, 7, (HEIGHT - 150, WIDTH, 1))
        frame[150:] = np.clip(frame[150:].astype(np.int16) + texture, 0, 255).astype(np.uint8)
        for x_top, x_bottom in ((250, 40), (390, 600)):  # lane edges in perspective
            cv2.line(frame, (x_top, 150), (x_bottom, HEIGHT), (230, 230, 230), 4)
        for y in range(180, HEIGHT, 70):  # arming loop cuts in the asphalt
            cv2.rectangle(frame, (230, y), (410, y + 40), (70, 72, 74), 2)
        cv2.rectangle(frame, (520, 110), (560, 330), (40, 160, 230), -1)  # barrier cabinet
        cv2.rectangle(frame, (300, 128), (540, 140), (255, 255, 255), -1)  # arm
        for x in range(320, 540, 40):
            cv2.rectangle(frame, (x, 128), (x + 20, 140), (30, 30, 210), -1)
        return frame

    @staticmethod
    def _draw_car(frame: Image) -> None:
        body, dark = (45, 45, 160), (40, 40, 40)
        cv2.rectangle(frame, (150, 210), (490, 420), body, -1)
        cv2.rectangle(frame, (200, 160), (440, 230), body, -1)
        cv2.rectangle(frame, (215, 172), (425, 228), (90, 80, 70), -1)  # windscreen
        cv2.rectangle(frame, (160, 420), (220, 460), dark, -1)  # wheels
        cv2.rectangle(frame, (420, 420), (480, 460), dark, -1)
        cv2.rectangle(frame, (165, 260), (230, 290), (200, 230, 240), -1)  # headlights
        cv2.rectangle(frame, (410, 260), (475, 290), (200, 230, 240), -1)

    def _paste_plate(self, frame: Image, plate: Image, unreadable: bool) -> None:
        x, y, width, height = self.plate_box()
        scale = height / plate.shape[0]
        width = min(round(plate.shape[1] * scale), WIDTH - 20)
        x = (WIDTH - width) // 2
        crop = cv2.resize(plate, (width, height), interpolation=cv2.INTER_CUBIC)
        if unreadable:
            crop = cv2.GaussianBlur(crop, (0, 0), 6)
            rng = np.random.default_rng(3)
            for _ in range(14):
                cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
                radius = int(rng.integers(height // 4, height // 2))
                cv2.circle(crop, (cx, cy), radius, (40, 70, 95), -1)
        frame[y : y + height, x : x + width] = crop


def letterbox(image: Image, width: int, height: int) -> Image:
    scale = min(width / image.shape[1], height / image.shape[0])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    x, y = (width - size[0]) // 2, (height - size[1]) // 2
    out[y : y + size[1], x : x + size[0]] = resized
    return out


class CameraSimulator:
    """The stream server, the control endpoint and the thread that produces frames."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fps: float = 10.0,
        images: Path | None = None,
        faults: Faults | None = None,
        control_port: int = 0,
        seed: int | None = None,
        font: Path | None = None,
    ) -> None:
        if not 0 < fps <= 60:
            raise ValueError(f"fps must be between 0 and 60, got {fps}")
        if font is not None:
            check_font(font)
        self.fps = fps
        self.font = font
        self.images = PlateImages(images) if images is not None else None
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self._scene = LaneScene()
        self._lock = threading.Lock()
        self._new_frame = threading.Condition(self._lock)
        self._vehicle: Vehicle | None = None
        self._dark: DarkMode | None = None
        self._jpeg: bytes | None = None
        self._seq = 0
        self._clients = 0
        self._stopping = threading.Event()
        self._producer: threading.Thread | None = None
        self._stream = ThreadingHTTPServer((host, port), self._handler_class())
        self._stream.daemon_threads = False  # server_close() joins the client threads
        self._stream_thread: threading.Thread | None = None
        try:
            self.control = ControlServer(
                {
                    "GET /state": lambda _: self.state(),
                    "POST /vehicle": self._post_vehicle,
                    "DELETE /vehicle": lambda _: self.clear_vehicle(),
                    "POST /vehicle/clear": lambda _: self.clear_vehicle(),
                    "POST /dark": self._post_dark,
                    "POST /faults": self._post_faults,
                },
                host=host,
                port=control_port,
            )
        except OSError:
            self._stream.server_close()
            raise

    @property
    def stream_url(self) -> str:
        host, port = self._stream.server_address[:2]
        return f"http://{host!s}:{port}/stream.mjpg"

    @property
    def control_url(self) -> str:
        return self.control.url

    def start(self) -> None:
        self._publish()
        self._producer = threading.Thread(target=self._produce, name="sim-camera-frames")
        self._producer.start()
        self._stream_thread = threading.Thread(
            target=self._stream.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sim-camera-stream",
        )
        self._stream_thread.start()
        self.control.start()
        logger.info("camera_sim_started", stream=self.stream_url, control=self.control_url)

    def stop(self) -> None:
        self._stopping.set()
        with self._new_frame:
            self._new_frame.notify_all()
        self.control.stop()
        self._stream.shutdown()
        self._stream.server_close()  # joins the client threads, which see _stopping
        for thread in (self._stream_thread, self._producer):
            if thread is not None:
                thread.join(timeout=5)
        logger.info("camera_sim_stopped", frames=self._seq)

    # The simulated world -------------------------------------------------------------

    def show_vehicle(
        self, plate: str | None = None, image: Path | None = None, unreadable: bool = False
    ) -> Vehicle:
        """Put a vehicle in front of the camera; ValueError names what cannot be shown."""
        vehicle = self._make_vehicle(plate, image, unreadable)
        with self._lock:
            self._vehicle = vehicle
        logger.info("camera_sim_vehicle", **vehicle.describe())
        return vehicle

    def clear_vehicle(self) -> dict[str, Any]:
        with self._lock:
            self._vehicle = None
        logger.info("camera_sim_vehicle_gone")
        return self.state()

    def set_dark(self, dark: bool, mode: DarkMode = "none") -> None:
        with self._lock:
            self._dark = mode if dark else None
        if dark and mode == "none":
            with self._new_frame:
                self._jpeg = None  # a client connecting while dark gets no stale frame
        logger.info("camera_sim_dark", dark=dark, mode=mode)

    def state(self) -> dict[str, Any]:
        with self._lock:
            vehicle = self._vehicle.describe() if self._vehicle else None
            faults = {k: v for k, v in asdict(self.faults).items() if not k.startswith("_")}
            return {
                "stream_url": self.stream_url,
                "fps": self.fps,
                "vehicle": vehicle,
                "dark": self._dark is not None,
                "dark_mode": self._dark,
                "faults": faults,
                "frames": self._seq,
                "clients": self._clients,
            }

    def _make_vehicle(self, plate: str | None, image: Path | None, unreadable: bool) -> Vehicle:
        if image is not None:
            picture = read_image(image)
            label = plate or read_labels(image.parent).get(image.name)
            return Vehicle(label, str(image), picture, looks_like_plate(picture), unreadable)
        if self.images is not None:
            path = self.images.by_plate(plate) if plate else None
            if path is None and not plate:
                path, plate = self.images.any(self._rng)
            if path is not None:
                picture = read_image(path)
                return Vehicle(plate, str(path), picture, looks_like_plate(picture), unreadable)
        text = plate or random_plate(self._rng)
        rendered = render_plate(text, height=PLATE_HEIGHT * 2, font=self.font)
        return Vehicle(text, "rendered", rendered, True, unreadable)

    # Control routes --------------------------------------------------------------------

    def _post_vehicle(self, body: dict[str, Any]) -> dict[str, Any]:
        only_keys(body, "plate", "image", "unreadable")
        plate = body.get("plate")
        if plate is not None and (not isinstance(plate, str) or not plate.strip()):
            raise ValueError("plate: expected a non-empty string")
        image = body.get("image")
        if image is not None and not isinstance(image, str):
            raise ValueError("image: expected a file path")
        unreadable = bool_field(body, "unreadable", default=False)
        vehicle = self.show_vehicle(plate, Path(image) if image else None, unreadable)
        return {"vehicle": vehicle.describe()}

    def _post_dark(self, body: dict[str, Any]) -> dict[str, Any]:
        only_keys(body, "dark", "mode")
        dark = bool_field(body, "dark")
        mode = body.get("mode", "none")
        if mode not in ("none", "black"):
            raise ValueError(f"mode: expected 'none' or 'black', got {mode!r}")
        self.set_dark(dark, mode)
        return self.state()

    def _post_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.faults = changed_faults(self.faults, body)
        return self.state()

    # Frames ------------------------------------------------------------------------------

    def _produce(self) -> None:
        period = 1.0 / self.fps
        next_at = time.monotonic()
        while not self._stopping.is_set():
            next_at += period
            self._publish()
            self._stopping.wait(max(0.0, next_at - time.monotonic()))

    def _publish(self) -> None:
        with self._lock:
            vehicle, dark, faults = self._vehicle, self._dark, self.faults
        if dark == "none" or faults.drops():
            return
        if dark == "black":
            frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        else:
            label = f"lanewarden sim camera  #{self._seq + 1}  {time.strftime('%H:%M:%S')}"
            frame = self._scene.render(vehicle, label)
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError("JPEG encoder refused a frame")  # only on a broken OpenCV build
        faults.delay()
        jpeg = faults.garble(encoded.tobytes())
        with self._new_frame:
            if self._dark != dark:
                return  # the camera went dark (or lit up) while this frame was made
            self._jpeg = jpeg
            self._seq += 1
            self._new_frame.notify_all()

    def _next_jpeg(
        self, after: int | None, timeout: float | None = None
    ) -> tuple[int, bytes] | None:
        """The first frame newer than ``after`` (the next one when None).

        None once the simulator stops, or after ``timeout`` seconds without a frame.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._new_frame:
            after = self._seq if after is None else after
            while not self._stopping.is_set():
                if self._seq > after and self._jpeg is not None:
                    return self._seq, self._jpeg
                remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if remaining <= 0:
                    break
                self._new_frame.wait(timeout=remaining)
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a client that stops reading cannot hold a thread for ever

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/stream.mjpg":
                    self._stream()
                elif path == "/snapshot.jpg":
                    self._snapshot()
                else:
                    self.send_error(HTTPStatus.NOT_FOUND, "try /stream.mjpg or /snapshot.jpg")

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("camera_sim_request", line=format % args)

            def _snapshot(self) -> None:
                frame = sim._next_jpeg(None, timeout=2.0)
                if frame is None:
                    self.send_error(
                        HTTPStatus.SERVICE_UNAVAILABLE, "no frame: camera dark, silent, or stopping"
                    )
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(frame[1])))
                self.end_headers()
                self.wfile.write(frame[1])

            def _stream(self) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                with sim._lock:
                    sim._clients += 1
                logger.info("camera_sim_client", client=self.client_address[0])
                seq = 0
                try:
                    while (frame := sim._next_jpeg(seq)) is not None:
                        seq, jpeg = frame
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                            + jpeg
                            + b"\r\n"
                        )
                        self.wfile.flush()
                except OSError as exc:  # the client went away
                    logger.info("camera_sim_client_gone", reason=str(exc))
                finally:
                    with sim._lock:
                        sim._clients -= 1

        return Handler
