"""Gaps in a lane's lane_seq: when to ask the lane to resend.

A gap seen once is usually not a loss: with several workers, two batches of one
lane can be stored in the other order, and the missing one lands a moment later.
So a gap is only asked for once it has been open for the gap timeout, and then at
most once per resend interval per lane and stream. The store is the truth: before
asking, the tracker reads the lane's ack again (another worker, or another central
process, may have filled the gap), so workers need share nothing but the database.

A restarted process knows no gap until a batch shows it, and a lane that sends
nothing more would never be asked: so the service :meth:`GapTracker.resume` s the
gaps the store holds at start, each as old as the alarm sweep's timer says (the
database keeps when a gap began), or new when no sweep saw it yet.

Pure apart from a lock: time comes in as monotonic seconds, the ack through a
callable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from contracts.mqtt.payloads import Stream

AckedSeq = Callable[[str, Stream], int]


class HeldGap(Protocol):
    """A gap the store holds (``central.storage.timers.OpenGap``)."""

    @property
    def plaza_id(self) -> str: ...
    @property
    def lane_id(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def held_max(self) -> int: ...
    @property
    def since(self) -> datetime | None: ...


@dataclass(frozen=True)
class ResendDue:
    """Ask ``lane_id`` to send ``stream`` again from ``from_seq``."""

    plaza_id: str
    lane_id: str
    stream: Stream
    from_seq: int
    held_to: int
    """The highest lane_seq known to be held beyond the gap."""
    open_s: float
    """How long the gap has been open."""


@dataclass
class _Gap:
    plaza_id: str
    beyond: int
    opened: float
    asked: float | None = None


class GapTracker:
    """The gaps this process has seen, and which of them are due a resend."""

    def __init__(self, timeout_s: float, resend_interval_s: float) -> None:
        self.timeout_s = timeout_s
        self.resend_interval_s = resend_interval_s
        self._gaps: dict[tuple[str, Stream], _Gap] = {}
        self._lock = threading.Lock()

    def note(
        self,
        plaza_id: str,
        lane_id: str,
        stream: Stream,
        *,
        gap_from: int | None,
        last_seq: int,
        now: float,
    ) -> None:
        """What storing a batch of ``lane_id`` up to ``last_seq`` left: a gap or none."""
        key = (lane_id, stream)
        with self._lock:
            if gap_from is None:
                self._gaps.pop(key, None)
                return
            beyond = max(gap_from, last_seq)
            gap = self._gaps.get(key)
            if gap is None:
                self._gaps[key] = _Gap(plaza_id, beyond, now)
            else:
                gap.beyond = max(gap.beyond, beyond)

    def resume(self, held: HeldGap, now: float, wall_now: datetime) -> bool:
        """Track a gap the store holds, opened when its timer says; False if tracked already."""
        if held.stream not in ("txn", "event"):
            raise ValueError(f"stream: {held.stream!r} is not txn or event")
        stream: Stream = "txn" if held.stream == "txn" else "event"
        age = 0.0 if held.since is None else max(0.0, (wall_now - held.since).total_seconds())
        with self._lock:
            if (held.lane_id, stream) in self._gaps:
                return False
            self._gaps[held.lane_id, stream] = _Gap(held.plaza_id, held.held_max, now - age)
            return True

    def due(self, now: float, acked_seq: AckedSeq) -> list[ResendDue]:
        """Gaps open past the timeout and not asked for within the interval; filled ones close."""
        with self._lock:
            candidates = [
                (key, gap) for key, gap in self._gaps.items() if now - gap.opened >= self.timeout_s
            ]
        out: list[ResendDue] = []
        for (lane_id, stream), gap in candidates:
            acked = acked_seq(lane_id, stream)  # outside the lock: a database read
            with self._lock:
                if self._gaps.get((lane_id, stream)) is not gap:
                    continue  # closed or replaced meanwhile
                if acked >= gap.beyond:
                    del self._gaps[(lane_id, stream)]
                    continue
                if gap.asked is not None and now - gap.asked < self.resend_interval_s:
                    continue
                gap.asked = now
            out.append(
                ResendDue(gap.plaza_id, lane_id, stream, acked + 1, gap.beyond, now - gap.opened)
            )
        return out

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._gaps)
