"""Plate recognition off the event loop: one worker thread owns the reader.

The models are heavy: they are loaded once, at start, in the worker (a model that
cannot load fails the start with :class:`RecognitionStartError` naming it). Reads
run one at a time in that thread, so loop events and barrier commands are never
delayed by recognition; the loop awaits the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
import numpy.typing as npt

from models.config import RecognitionConfig
from models.result import PlateRead

Image = npt.NDArray[np.uint8]


class Reader(Protocol):
    def read(self, frames: Sequence[Image]) -> PlateRead:
        """The plate of one vehicle from its frames."""
        ...


ReaderFactory = Callable[[RecognitionConfig], Reader]


class RecognitionStartError(Exception):
    """The plate reader could not be started; the message names the model or setting."""


def load_plate_reader(config: RecognitionConfig) -> Reader:
    """The real reader (ONNX models from the rapidocr wheel)."""
    from models.reader import PlateReader

    return PlateReader(config)


class PlateWorker:
    def __init__(self, config: RecognitionConfig, factory: ReaderFactory = load_plate_reader):
        self.config = config
        self.factory = factory
        self._pool: ThreadPoolExecutor | None = None
        self._reader: Reader | None = None

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="plate-reader")
        loop = asyncio.get_running_loop()
        try:
            self._reader = await loop.run_in_executor(self._pool, self.factory, self.config)
        except Exception as exc:  # onnxruntime and OpenCV raise their own error types
            self.stop()
            raise RecognitionStartError(
                f"recognition: the plate reader did not load: {type(exc).__name__}: {exc}"
            ) from exc

    async def read(self, frames: Sequence[Image]) -> PlateRead:
        if self._pool is None or self._reader is None:
            raise RuntimeError("plate worker: not started")
        reader = self._reader
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, reader.read, frames)

    def stop(self) -> None:
        """Wait for a read in progress, then end the worker thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._reader = None
