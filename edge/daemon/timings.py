"""Each passage's own timings, on the monotonic clock, from the arming loop on.

Marks: ``loop_on`` (the arming loop became occupied: the start of the raw
change its driver then debounced, so the debounce counts), ``plate_read`` (the
reader answered), ``decision`` (authorised or denied was committed),
``barrier_command`` (the open was sent), ``barrier_up`` (the up limit was
reported), ``vehicle_gone`` (the final record). When a passage ends they are
recorded as one ``passage_timings`` lane event with each mark in milliseconds
after ``loop_on``, so a slow lane can be told from a slow driver afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID


class Mark(StrEnum):
    PLATE_READ = "plate_read"
    DECISION = "decision"
    BARRIER_COMMAND = "barrier_command"
    BARRIER_UP = "barrier_up"
    VEHICLE_GONE = "vehicle_gone"


@dataclass
class _Passage:
    loop_on: float
    marks: dict[Mark, float] = field(default_factory=dict)


class PassageTimings:
    """Collects marks per transaction; ``finish`` returns the figures to record."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._loop_on: float | None = None
        self._passages: dict[UUID, _Passage] = {}
        self._opening: UUID | None = None

    def loop_on(self, at: float) -> None:
        """The arming loop became occupied at ``at`` (the driver's monotonic stamp)."""
        self._loop_on = at

    def begin(self, txn_id: UUID) -> None:
        """A transaction started for the vehicle that last occupied the arming loop."""
        start = self._loop_on if self._loop_on is not None else self.clock()
        self._passages[txn_id] = _Passage(start)

    def mark(self, txn_id: UUID, mark: Mark) -> None:
        passage = self._passages.get(txn_id)
        if passage is not None and mark not in passage.marks:
            passage.marks[mark] = self.clock()
        if mark is Mark.BARRIER_COMMAND and passage is not None:
            self._opening = txn_id

    def since_loop_on(self, txn_id: UUID) -> float | None:
        """Seconds from the passage's loop_on until now (None if it was never begun)."""
        passage = self._passages.get(txn_id)
        return None if passage is None else max(0.0, self.clock() - passage.loop_on)

    def barrier_up(self) -> None:
        """The barrier reached its up limit: it went up for the last passage opened for."""
        if self._opening is not None:
            self.mark(self._opening, Mark.BARRIER_UP)
            self._opening = None

    def drop(self) -> None:
        """Forget every passage begun: the lane stops, and a passage it settles did not finish."""
        self._passages.clear()
        self._opening = None

    def finish(self, txn_id: UUID) -> dict[str, float] | None:
        """The passage's marks in ms after loop_on (None if it was never begun)."""
        self.mark(txn_id, Mark.VEHICLE_GONE)
        passage = self._passages.pop(txn_id, None)
        if passage is None:
            return None
        if self._opening == txn_id:
            self._opening = None
        return {
            f"{mark.value}_ms": round((at - passage.loop_on) * 1000, 1)
            for mark, at in passage.marks.items()
        }
