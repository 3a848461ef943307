"""A camera read through OpenCV: RTSP, HTTP MJPEG, a USB device index, or a video file.

A reader thread opens the source and keeps the newest frames in a small ring, so
that :meth:`OpenCVCameraDriver.trigger` can hand recognition a frame from just
before the vehicle was detected plus the next ones. Opening happens in the
thread, bounded by FFmpeg's open timeout (``CAP_PROP_OPEN_TIMEOUT_MSEC``, which
FFmpeg only honours when the backend is chosen explicitly), so a camera that
never answers cannot hang :meth:`start`; :meth:`stop` waits at most one open or
read timeout for the thread.

Faults are events: a source that cannot be opened, a stream that ends or stops
producing frames (a watchdog thread checks the newest frame's age, because a
USB device's read may block without a timeout), and frames that are all dark
give one :class:`DeviceFault` ("camera down"); ``RECOVERY_FRAMES`` good frames in
a row after it give :class:`DeviceRecovered` (one frame, such as a stale one a
server sends on every reconnect, would make the camera flap between the two).
Reconnects back off exponentially, from ``reconnect_min_s`` doubling up to
``reconnect_max_s``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from drivers.config import OpenCVCamera
from drivers.interfaces import DeviceFault, DeviceRecovered, EventSink, Frame
from plumbing import log

logger = log.get(__name__)

#: Good frames in a row that end an outage.
RECOVERY_FRAMES = 3


def redact(source: str) -> str:
    """The source without the password of an ``rtsp://user:password@host`` URL, for logs."""
    parts = urlsplit(source)
    if parts.password is None:
        return source
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def is_network(source: str) -> bool:
    return "://" in source


class OpenCVCameraDriver:
    """:class:`drivers.interfaces.Camera` over ``cv2.VideoCapture``."""

    def __init__(self, config: OpenCVCamera, name: str = "camera") -> None:
        self.name = name
        self.config = config
        self._source = redact(config.source)
        self._sink: EventSink | None = None
        self._stop = threading.Event()
        self._new_frame = threading.Condition()
        self._ring: deque[Frame] = deque(maxlen=config.ring_size)
        self._seq = 0
        self._down_reason: str | None = None
        self._connected = False  # a capture is open: the watchdog checks frame age
        self._last_frame_at = 0.0
        self._last_good_at = 0.0
        self._good_streak = 0  # good frames in a row since the last outage
        self._transition = threading.Lock()  # keeps fault and recovery events in order
        self._threads: list[threading.Thread] = []

    # Camera interface ---------------------------------------------------------------------

    def start(self, sink: EventSink) -> None:
        if self._threads:
            raise RuntimeError(f"{self.name}: already started")
        self._sink = sink
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"{self.name}-reader", daemon=True),
            threading.Thread(target=self._watch, name=f"{self.name}-watchdog", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        logger.info("camera_starting", device=self.name, source=self._source)

    def stop(self) -> None:
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        limit = (self.config.open_timeout_ms + self.config.read_timeout_ms) / 1000 + 1.0
        deadline = time.monotonic() + limit
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("camera_thread_still_busy", device=self.name, thread=thread.name)
        self._threads = []
        logger.info("camera_stopped", device=self.name)

    def latest(self) -> Frame | None:
        with self._new_frame:
            if self._down_reason is not None or not self._ring:
                return None
            return self._ring[-1]

    def trigger(self, count: int) -> Sequence[Frame]:
        """Up to ``count`` frames: ``frames_before_trigger`` from just before now, then the next ones.

        Waits at most ``trigger_wait_ms`` for the next frames and returns what it has
        then (nothing while the camera is down), oldest first.
        """
        count = max(1, min(count, self.config.ring_size))
        deadline = time.monotonic() + self.config.trigger_wait_ms / 1000
        fresh_after = time.monotonic() - self.config.stale_after_ms / 1000
        with self._new_frame:
            if self._down_reason is not None:
                return []
            before_n = min(self.config.frames_before_trigger, count - 1)
            recent = [f for f in self._ring if f.at >= fresh_after]
            frames = recent[-before_n:] if before_n else []
            last_seq = self._ring[-1].seq if self._ring else 0
            while len(frames) < count and not self._stop.is_set():
                frames += [f for f in self._ring if f.seq > last_seq][: count - len(frames)]
                last_seq = frames[-1].seq if frames else last_seq
                remaining = deadline - time.monotonic()
                if len(frames) >= count or remaining <= 0 or self._down_reason is not None:
                    break
                self._new_frame.wait(timeout=remaining)
        return frames

    # Reader thread ----------------------------------------------------------------------

    def _read_loop(self) -> None:
        backoff = self.config.reconnect_min_s
        while not self._stop.is_set():
            capture = self._open()
            if capture is None:
                self._went_down(self._open_failure())
            else:
                self._connection(opened=True)
                produced = self._read_frames(capture)
                self._connection(opened=False)
                capture.release()
                if produced:
                    backoff = self.config.reconnect_min_s
                if produced and not is_network(self.config.source) and not self._stop.is_set():
                    continue  # a video file ended: play it again at once
            if self._stop.wait(backoff):
                return
            logger.info("camera_reconnecting", device=self.name, after_s=backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    def _open(self) -> cv2.VideoCapture | None:
        source = self.config.source
        if source.isdigit():
            capture = cv2.VideoCapture(int(source))
        else:
            capture = cv2.VideoCapture(
                source,
                cv2.CAP_FFMPEG,
                [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                    self.config.open_timeout_ms,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                    self.config.read_timeout_ms,
                ],
            )
        if not capture.isOpened():
            capture.release()
            return None
        logger.info("camera_opened", device=self.name, source=self._source)
        return capture

    def _open_failure(self) -> str:
        if is_network(self.config.source):
            return (
                f"cannot open {self._source} within {self.config.open_timeout_ms} ms "
                "(unreachable, refused, or not a video stream)"
            )
        if self.config.source.isdigit():
            return f"cannot open video device {self.config.source} (absent, busy, or no permission)"
        return f"cannot open {self._source} (no such file, or not a video)"

    def _read_frames(self, capture: cv2.VideoCapture) -> int:
        """Read until the stream fails or the driver stops; the number of frames read."""
        produced = 0
        period = 0.0
        if not is_network(self.config.source) and not self.config.source.isdigit():
            fps = capture.get(cv2.CAP_PROP_FPS)
            period = 1.0 / fps if 0 < fps <= 240 else 0.1  # play files in real time
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok or image is None:
                if produced == 0 or is_network(self.config.source):
                    self._went_down(f"{self._source} stopped producing frames")
                return produced
            produced += 1
            self._keep(np.asarray(image, dtype=np.uint8))
            if period:
                self._stop.wait(period)
        return produced

    def _connection(self, *, opened: bool) -> None:
        """Frame ages count from the moment a capture opens; the reader reports open failures."""
        with self._new_frame:
            self._connected = opened
            if opened:
                self._last_frame_at = self._last_good_at = time.monotonic()

    def _keep(self, image: np.ndarray[tuple[int, ...], np.dtype[np.uint8]]) -> None:
        now = time.monotonic()
        dark = self.config.dark_level > 0 and _brightness(image) < self.config.dark_level
        with self._new_frame:
            self._seq += 1
            self._ring.append(Frame(image=image, at=now, seq=self._seq))
            self._last_frame_at = now
            if not dark:
                self._last_good_at = now
            self._new_frame.notify_all()
        if dark:
            self._good_streak = 0
        else:
            self._good_streak += 1
            if self._good_streak >= RECOVERY_FRAMES:
                self._came_back()

    # Watchdog and state changes -----------------------------------------------------------

    def _watch(self) -> None:
        stale = self.config.stale_after_ms / 1000
        while not self._stop.wait(min(stale / 4, 0.25)):
            now = time.monotonic()
            with self._new_frame:
                if not self._connected:
                    continue
                frame_age = now - self._last_frame_at
                good_age = now - self._last_good_at
            if frame_age > stale:
                self._went_down(f"no frame from {self._source} for {frame_age:.1f} s")
            elif good_age > stale:
                self._went_down(
                    f"camera dark: every frame for {good_age:.1f} s is below brightness "
                    f"{self.config.dark_level}"
                )

    def _went_down(self, reason: str) -> None:
        with self._transition:
            with self._new_frame:
                if self._down_reason is not None or self._stop.is_set():
                    return
                self._down_reason = reason
                self._good_streak = 0
                self._ring.clear()
                self._new_frame.notify_all()
            logger.warning("camera_down", device=self.name, reason=reason)
            self._emit(DeviceFault(device=self.name, reason=reason, at=time.monotonic()))

    def _came_back(self) -> None:
        with self._transition:
            with self._new_frame:
                if self._down_reason is None:
                    return
                self._down_reason = None
            logger.info("camera_recovered", device=self.name, source=self._source)
            self._emit(DeviceRecovered(device=self.name, at=time.monotonic()))

    def _emit(self, event: DeviceFault | DeviceRecovered) -> None:
        if self._sink is not None:
            self._sink(event)


def _brightness(image: np.ndarray[tuple[int, ...], np.dtype[np.uint8]]) -> float:
    """Mean level of a subsample of the frame: cheap enough for every frame."""
    return float(image[::8, ::8].mean())


def build_opencv_camera(config: OpenCVCamera) -> OpenCVCameraDriver:
    return OpenCVCameraDriver(config)
