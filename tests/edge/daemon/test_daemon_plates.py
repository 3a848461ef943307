"""How the daemon reads a vehicle's frames: one read when it is clear, a vote when not."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np
import numpy.typing as npt
import pytest
from structlog.testing import capture_logs

from edge.daemon.plates import ReadLateError, read_vehicle
from models.config import RecognitionConfig
from models.result import PlateResult


def frame(marker: int) -> npt.NDArray[np.uint8]:
    return np.full((4, 4, 3), marker, dtype=np.uint8)


class ScriptedRecognition:
    """Answers each submitted batch in turn; remembers which frames each batch held."""

    def __init__(self, *answers: PlateResult) -> None:
        self.config = RecognitionConfig(region="cn")
        self.answers = list(answers)
        self.batches: list[list[int]] = []

    def start(self) -> None:
        """Nothing to load."""

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateResult]:
        self.batches.append([int(f[0, 0, 0]) for f in frames])
        done: Future[PlateResult] = Future()
        done.set_result(self.answers.pop(0))
        return done

    def close(self) -> None:
        """Nothing to stop."""


class SlowRecognition:
    """Answers its scripted reads, then begins the next read and answers it only when told."""

    def __init__(self, *answers: PlateResult) -> None:
        self.config = RecognitionConfig(region="cn")
        self.answers = list(answers)
        self.held: list[Future[PlateResult]] = []

    def start(self) -> None:
        """Nothing to load."""

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateResult]:
        future: Future[PlateResult] = Future()
        if self.answers:
            future.set_result(self.answers.pop(0))
            return future
        if not self.held:
            future.set_running_or_notify_cancel()  # the worker has begun it
        self.held.append(future)
        return future

    def close(self) -> None:
        """Nothing to stop."""


def read(text: str, accepted: bool) -> PlateResult:
    confidence = 0.99 if accepted else 0.6
    return PlateResult(text, "cn", "blue", (confidence,) * 7, confidence, accepted, None, None)


class TestReadVehicle:
    """The newest frame first; the multi-frame vote only for an unsure read."""

    def test_clear_newest_frame_is_read_once(self) -> None:
        recognition = ScriptedRecognition(read("皖A12345", accepted=True))
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True, 5.0))
        assert result.text == "皖A12345"
        assert recognition.batches == [[2]]

    def test_unsure_read_gets_the_vote_of_every_frame_and_is_not_read_again(self) -> None:
        recognition = ScriptedRecognition(
            read("皖A12345", accepted=False), read("皖A12345", accepted=True)
        )
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True, 5.0))
        assert (result.text, result.accepted) == ("皖A12345", True)
        assert (result.frames_read, result.frames_agreeing) == (2, 2)
        assert recognition.batches == [[2], [1]]

    def test_frames_that_disagree_lower_the_vote_below_the_threshold(self) -> None:
        recognition = ScriptedRecognition(
            read("皖A1234S", accepted=False), read("皖A12345", accepted=True)
        )
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True, 5.0))
        assert result.text == "皖A12345"
        assert not result.accepted
        assert (result.frames_read, result.frames_agreeing) == (2, 1)

    def test_a_vehicle_the_lane_gave_up_on_leaves_its_other_frames_unread(self) -> None:
        recognition = ScriptedRecognition(read("皖A1234S", accepted=False))
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: False, 5.0))
        assert not result.accepted
        assert recognition.batches == [[2]]

    def test_single_frame_is_not_read_twice(self) -> None:
        recognition = ScriptedRecognition(read("皖A1234S", accepted=False))
        result = asyncio.run(read_vehicle(recognition, [frame(7)], lambda: True, 5.0))
        assert not result.accepted
        assert recognition.batches == [[7]]


class TestReadDeadline:
    """A read that misses its deadline is given up; its late answer is logged and dropped."""

    def test_no_answer_by_the_deadline_is_late(self) -> None:
        recognition = SlowRecognition()
        with pytest.raises(ReadLateError, match="read deadline"):
            asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True, 0.05))
        (begun,) = recognition.held
        with capture_logs() as logs:
            begun.set_result(read("皖A12345", accepted=True))
        assert [(e["event"], e["text"]) for e in logs] == [("plate_read_late_dropped", "皖A12345")]

    def test_a_read_not_begun_by_the_deadline_is_never_read(self) -> None:
        recognition = SlowRecognition()
        recognition.held.append(Future())  # the worker is busy with an earlier read
        with capture_logs() as logs, pytest.raises(ReadLateError):
            asyncio.run(read_vehicle(recognition, [frame(1)], lambda: True, 0.05))
        assert recognition.held[1].cancelled()
        assert [(e["event"], e["read"]) for e in logs] == [("plate_read_late_dropped", False)]

    def test_the_deadline_covers_the_vote_of_every_frame(self) -> None:
        recognition = SlowRecognition(read("皖A1234S", accepted=False))
        with pytest.raises(ReadLateError):
            asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True, 0.05))
        assert len(recognition.held) == 1
