"""Recognition off the lane's control thread, and below it in priority.

The lane must never wait on a model: reads run on one worker thread and come
back as futures. Models load in :meth:`RecognitionWorker.start`, so a missing
or broken model fails the daemon's start with a ModelLoadError naming the
file, not the first vehicle.

On a busy computer the lane's loop must still come first. The worker thread
lowers its own priority (``RecognitionConfig.nice``) before it loads the models,
so the inference threads onnxruntime starts with each session inherit it, and
OpenCV is kept to the calling thread (its own pool's threads would not be
lowered). A read then waits for the CPU while the loop handles a loop event or a
barrier command; the lane's read deadline decides when a read is too late.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.config import RecognitionConfig
from models.reader import Models, PlateReader
from models.result import PlateResult
from plumbing import log

logger = log.get(__name__)

MAX_NICE = 19


def lower_priority(steps: int) -> int | None:
    """Lower the calling thread's priority by ``steps`` nice steps; its nice value after.

    Threads it starts afterwards inherit the value. None where a thread's own
    priority cannot be set (not Linux: there ``setpriority`` would lower the
    whole process, the lane's loop included).
    """
    if sys.platform != "linux":
        return None
    thread = threading.get_native_id()
    nice = min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, thread) + steps)
    os.setpriority(os.PRIO_PROCESS, thread, nice)
    return nice


class RecognitionWorker:
    """One reader on one worker thread."""

    def __init__(self, config: RecognitionConfig, model_folder: Path | None = None) -> None:
        self.config = config
        self._folder = model_folder
        self._reader: PlateReader | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start the worker thread and load the models on it (raises ModelLoadError)."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plate-reader")
        try:
            self._reader = self._pool.submit(self._load).result()
        except BaseException:
            self.close()
            raise

    def _load(self) -> PlateReader:
        """On the worker thread: lower its priority, then load (sessions inherit it)."""
        import cv2

        nice = lower_priority(self.config.nice)
        cv2.setNumThreads(1)
        reader = PlateReader(self.config, Models(self.config.threads, self._folder))
        logger.info("plate_reader_started", region=self.config.region, nice=nice)
        return reader

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateResult]:
        """Read one vehicle's frames on the worker; the future holds its PlateResult."""
        if self._pool is None or self._reader is None:
            raise RuntimeError("RecognitionWorker.submit called before start()")
        return self._pool.submit(self._reader.read, list(frames), crops=crops)

    def close(self) -> None:
        """Finish queued reads and stop the worker thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
