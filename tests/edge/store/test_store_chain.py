"""Appending records: per-lane sequence without gaps, hash chain, versions, sync bookkeeping."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import GENESIS_HASH
from contracts.records.transaction import Transaction
from edge.store import AckBeyondHeadError, DuplicateRecordIdError, Store

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def fixed_id(n: int) -> UUID:
    """A UUIDv7 that is the same on every call for the same ``n``."""
    millis = int(T0.timestamp() * 1000) + n
    return UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62) | n)


def entry(lane_id: str = "north-entry", n: int = 0, **overrides: Any) -> Transaction:
    fields: dict[str, Any] = {
        "id": fixed_id(n),
        "lane_id": lane_id,
        "kind": "entry",
        "status": "passed",
        "authorisation": "rule",
        "recorded_at": T0 + timedelta(seconds=n),
        "plate_text": f"AB{n:04d}",
        "entry_time": T0 + timedelta(seconds=n),
    }
    fields.update(overrides)
    return Transaction.build(**fields)


def event(lane_id: str = "north-entry", n: int = 0) -> LaneEvent:
    return LaneEvent.build(
        id=fixed_id(n),
        lane_id=lane_id,
        time=T0 + timedelta(seconds=n),
        kind="loop_stuck",
        severity="alarm",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "lane.db") as opened:
        yield opened


class TestSequence:
    """Each lane's records are numbered 1, 2, 3... and chained."""

    def test_first_record_starts_the_chain(self, store: Store) -> None:
        record = store.append_transaction(entry())
        assert (record.lane_seq, record.prev_hash) == (1, GENESIS_HASH)
        assert record.hash == record.computed_hash()

    def test_each_record_carries_the_previous_hash(self, store: Store) -> None:
        records = [store.append_transaction(entry(n=n)) for n in range(5)]
        assert [r.lane_seq for r in records] == [1, 2, 3, 4, 5]
        for before, after in itertools.pairwise(records):
            assert after.prev_hash == before.hash

    def test_lanes_sharing_a_database_have_their_own_sequence(self, store: Store) -> None:
        a1 = store.append_transaction(entry("lane-a", 1))
        b1 = store.append_transaction(entry("lane-b", 2))
        a2 = store.append_transaction(entry("lane-a", 3))
        assert (a1.lane_seq, b1.lane_seq, a2.lane_seq) == (1, 1, 2)
        assert b1.prev_hash == GENESIS_HASH
        assert a2.prev_hash == a1.hash
        assert store.lanes() == ["lane-a", "lane-b"]

    def test_events_have_their_own_sequence(self, store: Store) -> None:
        store.append_transaction(entry(n=1))
        first = store.append_event(event(n=2))
        second = store.append_event(event(n=3))
        assert (first.lane_seq, second.lane_seq) == (1, 2)
        assert second.prev_hash == first.hash
        assert store.events("north-entry") == [first, second]

    def test_stored_records_read_back_equal(self, store: Store) -> None:
        written = [store.append_transaction(entry(n=n)) for n in range(3)]
        assert store.transactions("north-entry") == written
        assert store.transactions("north-entry", from_seq=2, limit=1) == written[1:2]

    def test_a_failed_batch_uses_no_sequence_number(self, store: Store) -> None:
        def record_then_fail() -> None:
            with store.batch():
                store.append_transaction(entry(n=1))
                raise RuntimeError("lane decided otherwise")

        with pytest.raises(RuntimeError, match="lane decided otherwise"):
            record_then_fail()
        assert store.transactions("north-entry") == []
        assert store.append_transaction(entry(n=2)).lane_seq == 1

    def test_two_writers_on_one_lane_leave_no_gap(self, tmp_path: Path) -> None:
        path = tmp_path / "site.db"
        Store.open(path).close()
        errors: list[BaseException] = []

        def write(offset: int) -> None:
            try:
                with Store.open(path) as own:
                    for n in range(25):
                        own.append_transaction(entry(n=offset + n))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(k * 100,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with Store.open(path) as store:
            records = store.transactions("north-entry", limit=100)
        assert [r.lane_seq for r in records] == list(range(1, 51))
        for before, after in itertools.pairwise(records):
            assert after.prev_hash == before.hash


class TestVersions:
    """A transaction is recorded at every decision; versions share its id."""

    def test_versions_share_the_id(self, store: Store) -> None:
        arrived = entry(status="arrived", authorisation=None)
        passed = arrived.model_copy(update={"status": "passed", "authorisation": "rule"})
        store.append_transaction(arrived)
        latest = store.append_transaction(passed)
        assert latest.lane_seq == 2
        assert store.transaction(arrived.id) == latest
        assert [v.status for v in store.transaction_versions(arrived.id)] == ["arrived", "passed"]

    def test_repeating_the_latest_version_writes_nothing(self, store: Store) -> None:
        first = store.append_transaction(entry())
        again = store.append_transaction(entry())
        assert again == first
        assert len(store.transactions("north-entry")) == 1

    def test_an_event_id_cannot_be_reused_for_another_event(self, store: Store) -> None:
        stored = store.append_event(event())
        assert store.append_event(event()) == stored
        other = event().model_copy(update={"kind": "tailgate"})
        with pytest.raises(DuplicateRecordIdError, match=f"lane event {stored.id} is already"):
            store.append_event(other)


class TestDurability:
    """The store's file is set up for durable commits."""

    def test_wal_and_full_sync(self, tmp_path: Path, store: Store) -> None:
        store.append_transaction(entry())
        raw = sqlite3.connect(tmp_path / "lane.db")
        try:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            raw.close()
        conn = store._db.conn
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


class TestSync:
    """Records stay pending until central's ack covers their lane_seq."""

    def test_pending_until_acked(self, store: Store) -> None:
        for n in range(4):
            store.append_transaction(entry(n=n))
        assert [r.lane_seq for r in store.pending_transactions("north-entry")] == [1, 2, 3, 4]
        assert store.ack("north-entry", "txn", 3) == 3
        assert [r.lane_seq for r in store.pending_transactions("north-entry")] == [4]
        status = store.sync_status("north-entry")
        assert (status.txn.last_seq, status.txn.acked_seq, status.txn.pending) == (4, 3, 1)
        assert status.event.pending == 0

    def test_a_late_older_ack_changes_nothing(self, store: Store) -> None:
        for n in range(3):
            store.append_transaction(entry(n=n))
        store.ack("north-entry", "txn", 3)
        assert store.ack("north-entry", "txn", 1) == 3
        assert store.pending_transactions("north-entry") == []

    def test_ack_beyond_the_head_is_refused(self, store: Store) -> None:
        store.append_transaction(entry())
        with pytest.raises(AckBeyondHeadError, match="ack of lane_seq 5, but the last stored is 1"):
            store.ack("north-entry", "txn", 5)

    def test_events_are_acked_separately(self, store: Store) -> None:
        store.append_transaction(entry())
        store.append_event(event(n=1))
        store.append_event(event(n=2))
        store.ack("north-entry", "event", 1)
        assert [e.lane_seq for e in store.pending_events("north-entry")] == [2]
        assert len(store.pending_transactions("north-entry")) == 1

    def test_unknown_stream_is_named(self, store: Store) -> None:
        with pytest.raises(ValueError, match="stream: unknown stream 'alarm'"):
            store.ack("north-entry", "alarm", 1)  # type: ignore[arg-type]
