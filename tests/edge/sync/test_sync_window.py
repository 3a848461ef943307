"""The outbox's window on its own: ranges, acks, timeouts with back-off, restarts."""

from __future__ import annotations

import random

import pytest

from edge.sync.window import Pacing, StreamWindow

PACING = Pacing(batch_size=10, window=3, timeout_s=1.0, max_wait_s=8.0, jitter=0.0)


def window(acked: int = 0, pacing: Pacing = PACING) -> StreamWindow:
    return StreamWindow(acked, pacing, random.Random(7))


def send_all(w: StreamWindow, last_seq: int, now: float = 0.0) -> list[tuple[int, int]]:
    sent = []
    while (span := w.next_range(last_seq)) is not None:
        w.sent(*span, now)
        sent.append(span)
    return sent


class TestRanges:
    """Ranges start after the ack, are at most a batch, and at most a window are out."""

    def test_from_the_ack_in_batches_up_to_the_window(self) -> None:
        w = window(acked=5)
        assert send_all(w, 100) == [(6, 15), (16, 25), (26, 35)]
        assert w.in_flight == 30

    def test_nothing_new_nothing_sent(self) -> None:
        w = window(acked=5)
        assert w.next_range(5) is None

    def test_short_tail(self) -> None:
        assert send_all(window(), 13) == [(1, 10), (11, 13)]

    def test_sent_out_of_turn_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="the next to send is 1"):
            window().sent(5, 9, 0.0)


class TestAcks:
    """An ack frees what it covers and opens the window; old acks change nothing."""

    def test_ack_frees_and_trims(self) -> None:
        w = window()
        send_all(w, 100)
        assert w.acked(15, 0.5)
        assert [(f.first, f.last) for f in w.flights] == [(16, 20), (21, 30)]
        assert send_all(w, 100) == [(31, 40)]

    def test_old_ack_is_not_news(self) -> None:
        w = window(acked=20)
        assert not w.acked(10, 0.0)
        assert w.acked_seq == 20

    def test_ack_beyond_what_was_sent_moves_on(self) -> None:
        w = window()
        send_all(w, 100)
        w.acked(50, 0.0)
        assert w.flights == type(w.flights)()
        assert w.next_range(100) == (51, 60)
        assert w.deadline is None


class TestTimeouts:
    """No ack within the timeout: everything after the ack again, waits doubling to a ceiling."""

    def test_go_back_and_back_off(self) -> None:
        w = window()
        send_all(w, 25, now=0.0)
        assert not w.timed_out(0.9)
        assert w.timed_out(1.0)
        assert w.next_range(25) == (1, 10)
        send_all(w, 25, now=1.0)
        assert not w.timed_out(2.9)  # the wait doubled: 2 s
        assert w.timed_out(3.0)
        send_all(w, 25, now=3.0)
        assert w.deadline == pytest.approx(7.0)
        for now in (7.0, 15.0, 23.0):
            assert w.timed_out(now)
            send_all(w, 25, now=now)
        assert w.deadline == pytest.approx(31.0)  # capped at max_wait_s

    def test_an_ack_resets_the_back_off(self) -> None:
        w = window()
        send_all(w, 25, now=0.0)
        w.timed_out(1.0)
        send_all(w, 25, now=1.0)
        w.acked(10, 1.5)
        assert w.tries == 0
        assert w.deadline == pytest.approx(2.5)

    def test_jitter_stretches_within_its_fraction(self) -> None:
        pacing = Pacing(batch_size=10, window=3, timeout_s=1.0, max_wait_s=8.0, jitter=0.2)
        rng = random.Random(1)
        waits = [pacing.wait_s(2, rng) for _ in range(200)]
        assert min(waits) >= 4.0
        assert max(waits) <= 4.8
        assert len(set(waits)) > 100

    def test_nothing_out_never_times_out(self) -> None:
        assert not window().timed_out(1e9)


class TestRestart:
    """A reconnect or central's resend starts again from a given seq, below the ack too."""

    def test_resend_below_the_ack(self) -> None:
        w = window(acked=40)
        w.restart_from(31)
        assert w.next_range(40) == (31, 40)
        w.sent(31, 40, 0.0)
        assert not w.acked(40, 0.1)  # not news, but it covers the resent range
        assert w.in_flight == 0

    def test_seq_zero_is_refused(self) -> None:
        with pytest.raises(ValueError, match="starts at 1"):
            window().restart_from(0)
