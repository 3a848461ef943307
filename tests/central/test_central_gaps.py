"""Gaps: asked for only once they outlast the timeout, at most once per interval, closed by the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.alarms.watch import AlarmSweep
from central.commands.run import held_gaps
from central.config import CentralConfig
from central.ingest.gaps import GapTracker
from central.ingest.service import IngestService
from central.storage import CentralStore
from central.storage.timers import OpenGap
from contracts.testing import SealedLane, paid_exit

T = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


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


class TestResume:
    """A gap the store holds is tracked again at start, as old as the sweep's timer says."""

    def test_resumed_with_its_age(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        held = OpenGap("p", "l1", "txn", acked_seq=4, held_max=9, since=T - timedelta(seconds=8))
        assert gaps.resume(held, 100.0, T)
        assert gaps.due(101.9, acks) == []
        (due,) = gaps.due(102.0, acks)
        assert (due.from_seq, due.held_to, due.open_s) == (1, 9, 10.0)
        assert not gaps.resume(held, 200.0, T)  # tracked already

    def test_not_swept_yet_is_new(self) -> None:
        gaps, acks = GapTracker(10, 30), Acks()
        gaps.resume(OpenGap("p", "l1", "event", 4, 9, since=None), 100.0, T)
        assert gaps.due(109.9, acks) == []
        assert len(gaps.due(110.0, acks)) == 1

    def test_an_unknown_stream_is_refused(self) -> None:
        with pytest.raises(ValueError, match="stream"):
            GapTracker(10, 30).resume(OpenGap("p", "l1", "ack", 1, 2, None), 0.0, T)


class TestRestart:
    """A restarted central asks for a gap no new batch shows, once it outlasts the timeout."""

    def test_the_gap_outlives_the_service(self, tmp_path: Path) -> None:
        config = CentralConfig.model_validate(
            {"kind": "central", "ingest": {"gap_timeout_s": 10}, "metrics": {"enabled": False}}
        )
        with CentralStore.open(f"sqlite:///{tmp_path / 'central.db'}") as store:
            lane = SealedLane("west", "w1")
            first, _lost, beyond = (lane.txns(paid_exit("w1", T)) for _ in range(3))
            store.store_batch("west", first, T)
            store.store_batch("west", beyond, T)
            AlarmSweep(store, config).run(T)  # the gap's timer starts

            def service(at: datetime, monotonic: float) -> IngestService:
                return IngestService(
                    config,
                    store,
                    open_gaps=lambda: held_gaps(store),
                    clock=lambda: at,
                    monotonic=lambda: monotonic,
                )

            early = service(T + timedelta(seconds=4), 50.0)
            assert early.resume_gaps() == 1
            assert early.gaps.due(55.9, store.acked_seq) == []
            restarted = service(T + timedelta(seconds=12), 7.0)
            assert restarted.resume_gaps() == 1
            (due,) = restarted.gaps.due(7.0, store.acked_seq)
            assert (due.lane_id, due.from_seq, due.held_to, due.open_s) == ("w1", 2, 3, 12.0)
            assert restarted.resume_gaps() == 0
