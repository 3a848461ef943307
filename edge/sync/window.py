"""Which records of one stream to send next: a sliding window over ``lane_seq``, go-back-N.

Pure bookkeeping (the caller passes the monotonic time and does the I/O), so the
rules can be tested without a broker:

- records are sent from ``acked_seq + 1`` in ranges of at most ``batch_size``,
  with at most ``window`` ranges sent and not yet covered by central's ack;
- an ack moves ``acked_seq`` forward (never back) and frees the ranges it covers;
- when no ack has moved for the resend timeout, everything after ``acked_seq``
  is sent again (go-back-N: central stores idempotently, and the ack says only
  "contiguous up to", so there is no finer knowledge to use); the timeout doubles
  at each consecutive try, up to a ceiling, with jitter so that lanes that lost
  the same broker do not come back in step;
- a reconnect or central's ``resend`` starts again from a given sequence.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Flight:
    """A range of records sent and not yet acked."""

    first: int
    last: int


@dataclass(frozen=True)
class Pacing:
    """How many records go out at a time, and how long to wait for an ack."""

    batch_size: int
    window: int
    timeout_s: float
    max_wait_s: float
    jitter: float = 0.2
    """Each wait is stretched by up to this fraction, at random."""

    def wait_s(self, tries: int, rng: random.Random) -> float:
        """The wait before the next resend after ``tries`` consecutive timeouts."""
        base = min(self.max_wait_s, self.timeout_s * 2.0**tries)
        return base * (1.0 + self.jitter * rng.random())


class StreamWindow:
    """The sending state of one stream of one lane."""

    def __init__(self, acked_seq: int, pacing: Pacing, rng: random.Random | None = None) -> None:
        self.pacing = pacing
        self.acked_seq = acked_seq
        self.next_seq = acked_seq + 1
        self.flights: deque[Flight] = deque()
        self.tries = 0
        """Consecutive resend timeouts without an ack that moved."""
        self.deadline: float | None = None
        self._rng = rng or random.Random()

    @property
    def in_flight(self) -> int:
        """Records sent and not yet acked."""
        return sum(f.last - f.first + 1 for f in self.flights)

    def next_range(self, last_seq: int) -> tuple[int, int] | None:
        """The next range to send given the stream's last stored ``lane_seq``, if any."""
        if len(self.flights) >= self.pacing.window or self.next_seq > last_seq:
            return None
        first = self.next_seq
        return first, min(last_seq, first + self.pacing.batch_size - 1)

    def sent(self, first: int, last: int, now: float) -> None:
        """``first..last`` went out at ``now``."""
        if first != self.next_seq or last < first:
            raise ValueError(f"sent {first}..{last}, but the next to send is {self.next_seq}")
        self.flights.append(Flight(first, last))
        self.next_seq = last + 1
        if self.deadline is None:
            self.deadline = now + self.pacing.wait_s(self.tries, self._rng)

    def acked(self, seq: int, now: float) -> bool:
        """Central holds everything up to ``seq``; False when that is not news.

        A repeated ack still frees the ranges it covers (records central asked
        for again, below its ack, are covered by its next ack whatever its value).
        """
        news = seq > self.acked_seq
        if news:
            self.acked_seq = seq
            self.tries = 0
        freed = False
        while self.flights and self.flights[0].last <= seq:
            self.flights.popleft()
            freed = True
        if self.flights and self.flights[0].first <= seq:
            self.flights[0] = Flight(seq + 1, self.flights[0].last)
        self.next_seq = max(self.next_seq, self.acked_seq + 1)
        if news or freed:
            self.deadline = (
                now + self.pacing.wait_s(self.tries, self._rng) if self.flights else None
            )
        return news

    def timed_out(self, now: float) -> bool:
        """At the deadline with records unacked: rewind to resend them, and back off."""
        if self.deadline is None or now < self.deadline or not self.flights:
            return False
        self.tries += 1
        self.restart_from(self.acked_seq + 1)
        return True

    def restart_from(self, seq: int) -> None:
        """Send again from ``seq``: ``acked_seq + 1`` on a reconnect, central's on ``resend``.

        Central may ask for records below its own ack (it lost some): they are
        still in the store, so they are sent.
        """
        if seq < 1:
            raise ValueError(f"lane_seq starts at 1, got {seq}")
        self.flights.clear()
        self.next_seq = seq
        self.deadline = None
