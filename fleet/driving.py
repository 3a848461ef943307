"""Vehicles driven through a simulated lane, and what the lane recorded for each.

:class:`Driver` plays one vehicle at one lane: it shows the plate to the camera,
drives onto the arming loop, waits for the barrier (or for the lane's refusal),
drives over the safety loop and away, or backs out, and then reads the
transaction the lane recorded for it from the store. Every wait gives up when
the ``stop`` event is set (the demo ends), and the vehicle then leaves the loops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.records.sealed import TransactionRecord
from edge.daemon.display_text import PLATE_PAGE_PROMPT
from edge.store import Store
from fleet.rig import LaneRig

FINAL = frozenset({"passed", "voided", "unauthorised"})  # the lane is done with the vehicle
REFUSED = frozenset({"denied", "unauthorised", "voided"})  # no use waiting for the barrier
POLL_S = 0.02
RECORD_POLL_S = 0.2


class LaneRecords:
    """The transactions one lane writes to the site store, read as they arrive."""

    def __init__(self, store_path: Path, lane_id: str) -> None:
        self.store_path = store_path
        self.lane_id = lane_id

    def head(self) -> int:
        """The lane's last transaction lane_seq so far."""
        with Store.open(self.store_path) as store:
            return store.sync_status(self.lane_id).txn.last_seq

    def first_after(self, seq: int) -> TransactionRecord | None:
        """The latest version of the first transaction begun after lane_seq ``seq``.

        Versions of earlier transactions recorded after ``seq`` (the last vehicle's
        ``voided`` once it had backed away) are passed over.
        """
        with Store.open(self.store_path) as store:
            records = store.transactions(self.lane_id, seq + 1, 1000)
            for record in records:
                if store.transaction_versions(record.id)[0].lane_seq > seq:
                    return [r for r in records if r.id == record.id][-1]
        return None


@dataclass(frozen=True)
class DriveTiming:
    """How the simulated driver moves (s)."""

    approach_s: float = 1.0  # in the camera's view before it stops on the arming loop
    onto_safety_s: float = 0.4  # barrier up -> front wheels on the safety loop
    off_arming_s: float = 0.4  # -> rear wheels off the arming loop
    off_safety_s: float = 0.4  # -> off the safety loop
    patience_s: float = 45.0  # gives up waiting for the barrier and backs out
    settle_s: float = 15.0  # waits this long for the barrier to close and the record


@dataclass
class PassageSeen:
    """One vehicle at one lane as its driver saw it: what was shown, what happened,
    what the lane recorded (the lane's own is ``edge.lane.state.Passage``)."""

    lane_id: str
    shown: str | None
    arrived_at: float
    opened_at: float | None = None
    drove_through: bool = False
    stranded: bool = False
    """The driver's patience ran out with the barrier down and no refusal from the lane."""
    interrupted: bool = False
    display: list[str] = field(default_factory=list)
    helped: str | None = None
    """How the vehicle got help when the lane could not read its plate."""
    record: TransactionRecord | None = None
    left_at: float | None = None
    """When the vehicle cleared the safety loop."""
    close_command_at: float | None = None
    closed_at: float | None = None
    """When the barrier was seen down behind the vehicle (the lane free for the next)."""
    finished_at: float | None = None

    @property
    def close_ms(self) -> float | None:
        """Safety loop clear to the barrier's close command (ms)."""
        if self.close_command_at is None or self.left_at is None:
            return None
        return (self.close_command_at - self.left_at) * 1000

    @property
    def open_ms(self) -> float | None:
        """Arming loop on to the barrier's open command (ms)."""
        if self.opened_at is None:
            return None
        return (self.opened_at - self.arrived_at) * 1000


class Driver:
    def __init__(
        self,
        rig: LaneRig,
        records: LaneRecords,
        stop: threading.Event,
        timing: DriveTiming | None = None,
    ) -> None:
        self.rig = rig
        self.records = records
        self.stop = stop
        self.timing = timing or DriveTiming()

    def through(
        self,
        plate: str | None,
        *,
        image: Path | None = None,
        unreadable: bool = False,
        back_out: bool = False,
        on_stranded: Callable[[], str] | None = None,
    ) -> PassageSeen:
        """One vehicle at the lane; ``back_out``: it reverses away once the barrier is up.

        ``on_stranded`` is called once when the display offers pay by plate (the
        lane could not read the plate); what it returns is kept as ``helped``.
        """
        rig, timing = self.rig, self.timing
        seq = self.records.head()
        opens_before = len(rig.opens)
        rig.show(plate, image, unreadable)
        self._pause(timing.approach_s)
        passage = PassageSeen(self.records.lane_id, plate, arrived_at=time.monotonic())
        rig.loops(arming=True)
        up = self._wait_open(passage, seq, opens_before, on_stranded)
        if up and not back_out and self._pause(timing.onto_safety_s):
            rig.loops(safety=True)
            self._pause(timing.off_arming_s)
            rig.loops(arming=False)
            rig.clear()
            self._pause(timing.off_safety_s)
            closes_before = len(rig.closes)
            rig.loops(safety=False)
            passage.left_at = time.monotonic()
            passage.drove_through = True
            self._wait_closed(passage, closes_before)
        self._leave()
        passage.interrupted = self.stop.is_set()
        if not passage.interrupted:
            self._settle(passage, seq)
        passage.finished_at = time.monotonic()
        return passage

    def _wait_open(
        self,
        passage: PassageSeen,
        seq: int,
        opens_before: int,
        on_stranded: Callable[[], str] | None,
    ) -> bool:
        """Until the barrier is up (True), or the lane refused, the driver gave up or the demo ended."""
        deadline = passage.arrived_at + self.timing.patience_s
        next_record = 0.0
        while not self.stop.wait(POLL_S):
            now = time.monotonic()
            self._note_display(passage)
            stranded = any(line.startswith(PLATE_PAGE_PROMPT) for line in passage.display)
            if on_stranded is not None and stranded and passage.helped is None:
                passage.helped = on_stranded()
            opens = self.rig.opens
            if passage.opened_at is None and len(opens) > opens_before:
                passage.opened_at = opens[opens_before]
            if passage.opened_at is not None and self.rig.barrier() == "up":
                return True
            if now >= next_record:
                next_record = now + RECORD_POLL_S
                record = self.records.first_after(seq)
                if record is not None and record.status in REFUSED:
                    passage.record = record
                    return False
            if now >= deadline:
                passage.stranded = True
                return False
        return False

    def _wait_closed(self, passage: PassageSeen, closes_before: int) -> None:
        deadline = time.monotonic() + self.timing.settle_s
        while not self.stop.wait(POLL_S):
            closes = self.rig.closes
            if passage.close_command_at is None and len(closes) > closes_before:
                passage.close_command_at = closes[closes_before]
            if self.rig.barrier() == "down":
                passage.closed_at = time.monotonic()
                return
            if time.monotonic() >= deadline:
                return

    def _settle(self, passage: PassageSeen, seq: int) -> None:
        """Wait for the barrier to close and for the lane's final record of this vehicle."""
        deadline = time.monotonic() + self.timing.settle_s
        while not self.stop.wait(RECORD_POLL_S):
            self._note_display(passage)
            record = self.records.first_after(seq)
            if record is not None:
                passage.record = record
            closed = not passage.drove_through or self.rig.barrier() == "down"
            if (record is not None and record.status in FINAL and closed) or (
                time.monotonic() >= deadline
            ):
                return
        if passage.record is None:  # the demo ended meanwhile: what the lane has recorded so far
            passage.record = self.records.first_after(seq)

    def _note_display(self, passage: PassageSeen) -> None:
        text = " / ".join(line for line in self.rig.display_lines() if line)
        if text and (not passage.display or passage.display[-1] != text):
            passage.display.append(text)

    def _pause(self, seconds: float) -> bool:
        """Sleep unless the demo ends meanwhile (False then)."""
        return not self.stop.wait(seconds)

    def _leave(self) -> None:
        """Whatever happened, the vehicle is off the loops and out of view."""
        self.rig.loops(arming=False, safety=False)
        self.rig.clear()
