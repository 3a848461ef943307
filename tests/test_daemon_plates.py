"""How the daemon reads a vehicle's frames: one read when it is clear, a vote when not."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np
import numpy.typing as npt

from edge.daemon.plates import read_vehicle
from models.config import RecognitionConfig
from models.result import PlateRead


def frame(marker: int) -> npt.NDArray[np.uint8]:
    return np.full((4, 4, 3), marker, dtype=np.uint8)


class ScriptedRecognition:
    """Answers each submitted batch in turn; remembers which frames each batch held."""

    def __init__(self, *answers: PlateRead) -> None:
        self.config = RecognitionConfig(region="cn")
        self.answers = list(answers)
        self.batches: list[list[int]] = []

    def start(self) -> None:
        """Nothing to load."""

    def submit(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> Future[PlateRead]:
        self.batches.append([int(f[0, 0, 0]) for f in frames])
        done: Future[PlateRead] = Future()
        done.set_result(self.answers.pop(0))
        return done

    def close(self) -> None:
        """Nothing to stop."""


def read(text: str, accepted: bool) -> PlateRead:
    confidence = 0.99 if accepted else 0.6
    return PlateRead(text, "cn", "blue", (confidence,) * 7, confidence, accepted, None, None)


class TestReadVehicle:
    """The newest frame first; the multi-frame vote only for an unsure read."""

    def test_clear_newest_frame_is_read_once(self) -> None:
        recognition = ScriptedRecognition(read("皖A12345", accepted=True))
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True))
        assert result.text == "皖A12345"
        assert recognition.batches == [[2]]

    def test_unsure_read_gets_the_vote_of_every_frame_and_is_not_read_again(self) -> None:
        recognition = ScriptedRecognition(
            read("皖A12345", accepted=False), read("皖A12345", accepted=True)
        )
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True))
        assert (result.text, result.accepted) == ("皖A12345", True)
        assert (result.frames_read, result.frames_agreeing) == (2, 2)
        assert recognition.batches == [[2], [1]]

    def test_frames_that_disagree_lower_the_vote_below_the_threshold(self) -> None:
        recognition = ScriptedRecognition(
            read("皖A1234S", accepted=False), read("皖A12345", accepted=True)
        )
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: True))
        assert result.text == "皖A12345"
        assert not result.accepted
        assert (result.frames_read, result.frames_agreeing) == (2, 1)

    def test_a_vehicle_the_lane_gave_up_on_leaves_its_other_frames_unread(self) -> None:
        recognition = ScriptedRecognition(read("皖A1234S", accepted=False))
        result = asyncio.run(read_vehicle(recognition, [frame(1), frame(2)], lambda: False))
        assert not result.accepted
        assert recognition.batches == [[2]]

    def test_single_frame_is_not_read_twice(self) -> None:
        recognition = ScriptedRecognition(read("皖A1234S", accepted=False))
        result = asyncio.run(read_vehicle(recognition, [frame(7)], lambda: True))
        assert not result.accepted
        assert recognition.batches == [[7]]
