"""Plate recognition off the event loop, through the models' recognition worker.

:class:`models.worker.RecognitionWorker` loads the models once, at start (a model
that cannot load fails the daemon's start: :class:`RecognitionStartError` names
it), and reads on its own thread, one vehicle at a time, answering with futures;
the loop awaits them, so loop events and barrier commands are never delayed by a
read. Anything with the same three methods can stand in for it (tests, bench).

Every attempt at a vehicle's plate has a deadline (``[degraded] read_deadline_s``):
a reader that has not answered by then (a busy computer) raises
:class:`ReadLateError`, and its answer, when it comes, is logged and dropped: it
belongs to a vehicle the lane has already dealt with, never to the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

import numpy as np
import numpy.typing as npt

from models.config import RecognitionConfig
from models.result import PlateResult
from models.vote import fuse
from plumbing import log

logger = log.get(__name__)

Image = npt.NDArray[np.uint8]


class Recognition(Protocol):
    config: RecognitionConfig

    def start(self) -> None:
        """Load the models and start the worker; raises when a model cannot load."""

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateResult]:
        """Read one vehicle's frames on the worker."""
        ...

    def close(self) -> None:
        """Finish queued reads and stop the worker."""


RecognitionFactory = Callable[[RecognitionConfig], Recognition]


class RecognitionStartError(Exception):
    """The plate reader could not be started; the message names the model or setting."""


class ReadLateError(Exception):
    """The plate reader had not answered by the attempt's deadline."""


def recognition_worker(config: RecognitionConfig) -> Recognition:
    """The real recognition worker (ONNX models from the rapidocr wheel)."""
    from models.worker import RecognitionWorker

    return RecognitionWorker(config)


async def start_recognition(factory: RecognitionFactory, config: RecognitionConfig) -> Recognition:
    """A started worker; loading runs in a thread so the loop keeps handling device events."""
    recognition = factory(config)
    try:
        await asyncio.to_thread(recognition.start)
    except Exception as exc:  # onnxruntime and OpenCV raise their own error types
        recognition.close()
        raise RecognitionStartError(
            f"recognition: the plate reader did not load: {type(exc).__name__}: {exc}"
        ) from exc
    return recognition


async def read_plate(
    recognition: Recognition, frames: Sequence[Image], deadline: float
) -> PlateResult:
    """One read, answered by ``deadline`` (the loop's clock) or ReadLateError."""
    future = recognition.submit(frames)
    left = deadline - asyncio.get_running_loop().time()
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), max(0.0, left))
    except TimeoutError:
        future.cancel()  # not begun yet: never read; begun: runs on, its answer dropped
        future.add_done_callback(_dropped)
        raise ReadLateError("the plate reader did not answer by the read deadline") from None


def _dropped(future: Future[PlateResult]) -> None:
    """A late read's end (on the reader's thread): logged, applied to nothing."""
    if future.cancelled():
        logger.info("plate_read_late_dropped", read=False)
    elif (error := future.exception()) is not None:
        logger.info("plate_read_late_dropped", read=True, error=repr(error))
    else:
        logger.info("plate_read_late_dropped", read=True, text=future.result().text)


async def read_vehicle(
    recognition: Recognition,
    frames: Sequence[Image],
    wanted: Callable[[], bool],
    deadline_s: float,
) -> PlateResult:
    """The newest frame alone first; all the frames, voted, only when it is not accepted.

    A clear plate opens the barrier after one read instead of one per frame. The
    reader's threshold is set on single-image reads, so accepting one keeps the
    error rate it was set for; unsure reads get the multi-frame vote. The vote
    reuses the newest frame's read: on an empty or muddy lane every attempt
    ends in the vote, and reading that frame again would cost a third more.
    The other frames are read one at a time while ``wanted()`` holds: once the
    lane has given up on this vehicle, the worker is left free for the next one.
    All of it is answered within ``deadline_s`` or raises ReadLateError.
    """
    deadline = asyncio.get_running_loop().time() + deadline_s
    newest = await read_plate(recognition, frames[-1:], deadline)
    if newest.accepted or len(frames) == 1:
        return newest
    earlier: list[PlateResult] = []
    for frame in frames[:-1]:
        if not wanted():
            break
        earlier.append(await read_plate(recognition, [frame], deadline))
    config = recognition.config
    return fuse([*earlier, newest], config.threshold, config.region)
