"""Recognition off the lane's control thread.

The lane must never wait on a model: reads run on one worker thread and come
back as futures. Models load in :meth:`RecognitionWorker.start`, so a missing
or broken model fails the daemon's start with a ModelLoadError naming the
file, not the first vehicle.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge import log
from models.config import RecognitionConfig
from models.reader import Models, PlateReader
from models.result import PlateRead

logger = log.get(__name__)


class RecognitionWorker:
    """One reader on one worker thread."""

    def __init__(self, config: RecognitionConfig, model_folder: Path | None = None) -> None:
        self.config = config
        self._folder = model_folder
        self._reader: PlateReader | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Load the models (raises ModelLoadError) and start the worker thread."""
        self._reader = PlateReader(self.config, Models(self.config.threads, self._folder))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plate-reader")
        logger.info("plate_reader_started", region=self.config.region)

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateRead]:
        """Read one vehicle's frames on the worker; the future holds its PlateRead."""
        if self._pool is None or self._reader is None:
            raise RuntimeError("RecognitionWorker.submit called before start()")
        return self._pool.submit(self._reader.read, list(frames), crops=crops)

    def close(self) -> None:
        """Finish queued reads and stop the worker thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
