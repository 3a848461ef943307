"""Gaps: asked for only once they outlast the timeout, at most once per interval, closed by the store."""

from __future__ import annotations

from central.ingest.gaps import GapTracker


class Acks:
    """The store's acks as a test sets them."""

    def __init__(self) -> None:
        self.acked: dict[tuple[str, str], int] = {}

    def __call__(self, lane_id: str, stream: str) -> int:
        return self.acked.get((lane_id, stream), 0)


class TestGapTracker:
    """A gap is due after the timeout, re-asked after the interval, dropped once filled."""

    def test_a_gap_waits_for_the_timeout(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        acks.acked["l1", "txn"] = 4
        gaps.note("p", "l1", "txn", gap_from=5, last_seq=12, now=100.0)
        assert gaps.due(109.9, acks) == []
        (due,) = gaps.due(110.0, acks)
        assert (due.plaza_id, due.lane_id, due.stream, due.from_seq, due.held_to) == (
            "p",
            "l1",
            "txn",
            5,
            12,
        )
        assert due.open_s == 10.0

    def test_asked_again_only_after_the_interval(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        gaps.note("p", "l1", "txn", gap_from=1, last_seq=3, now=0.0)
        assert len(gaps.due(10.0, acks)) == 1
        assert gaps.due(39.9, acks) == []
        assert len(gaps.due(40.0, acks)) == 1

    def test_filled_by_another_worker_closes_without_asking(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        gaps.note("p", "l1", "event", gap_from=5, last_seq=9, now=0.0)
        acks.acked["l1", "event"] = 9
        assert gaps.due(10.0, acks) == []
        assert gaps.open_count == 0

    def test_partly_filled_asks_from_the_new_ack(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        gaps.note("p", "l1", "txn", gap_from=5, last_seq=20, now=0.0)
        acks.acked["l1", "txn"] = 11
        (due,) = gaps.due(10.0, acks)
        assert due.from_seq == 12

    def test_a_contiguous_batch_closes_the_gap(self) -> None:
        gaps = GapTracker(10, 30)
        gaps.note("p", "l1", "txn", gap_from=5, last_seq=9, now=0.0)
        assert gaps.open_count == 1
        gaps.note("p", "l1", "txn", gap_from=None, last_seq=9, now=1.0)
        assert gaps.open_count == 0

    def test_lanes_and_streams_are_apart(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        gaps.note("p", "l1", "txn", gap_from=5, last_seq=9, now=0.0)
        gaps.note("p", "l1", "event", gap_from=2, last_seq=3, now=0.0)
        gaps.note("p", "l2", "txn", gap_from=7, last_seq=8, now=5.0)
        assert sorted((d.lane_id, d.stream) for d in gaps.due(10.0, acks)) == [
            ("l1", "event"),
            ("l1", "txn"),
        ]
        assert [(d.lane_id, d.from_seq) for d in gaps.due(15.0, acks)] == [("l2", 1)]

    def test_a_later_batch_widens_what_must_be_filled(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        gaps.note("p", "l1", "txn", gap_from=5, last_seq=9, now=0.0)
        gaps.note("p", "l1", "txn", gap_from=5, last_seq=15, now=3.0)
        acks.acked["l1", "txn"] = 9
        (due,) = gaps.due(10.0, acks)
        assert (due.from_seq, due.held_to, due.open_s) == (10, 15, 10.0)
