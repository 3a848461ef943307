"""A store that cannot grow: a write fails whole with StoreFullError, nothing committed is
lost, and the same writes go in once there is room."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.records.transaction import Transaction
from contracts.uuid7 import uuid7
from edge.store import Store, StoreFullError, verify

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def entry(n: int) -> Transaction:
    at = T0 + timedelta(seconds=n)
    return Transaction.build(
        id=uuid7(at),
        lane_id="north-entry",
        kind="entry",
        status="passed",
        authorisation="rule",
        recorded_at=at,
        plate_text=f"AB{n:04d}",
        entry_time=at,
    )


def until_full(store: Store, start: int) -> int:
    """Append entries from number ``start`` until the store is full; the first that failed."""
    n = start
    while True:
        try:
            with store.batch():
                record = store.append_transaction(entry(n))
                store.entries.open(record)
        except StoreFullError:
            return n
        n += 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "lane.db") as opened:
        yield opened


class TestFullStore:
    """At its size limit the store refuses the write whole and keeps what it had."""

    def test_a_write_past_the_limit_fails_whole(self, store: Store, tmp_path: Path) -> None:
        store.limit_size(0)  # no larger than it is now
        failed = until_full(store, 0)
        assert failed > 0
        kept = store.transactions("north-entry", 1, 10_000)
        assert [r.lane_seq for r in kept] == list(range(1, failed + 1))
        assert store.entries.find(f"AB{failed:04d}") is None  # the batch's other half too
        assert store.entries.find(f"AB{failed - 1:04d}") is not None
        assert verify(tmp_path / "lane.db").ok

    def test_the_same_write_goes_in_once_there_is_room(self, store: Store) -> None:
        store.limit_size(0)
        failed = until_full(store, 0)
        assert store.limit_size(None) > 1 << 30
        record = store.append_transaction(entry(failed))
        assert record.lane_seq == failed + 1

    def test_the_limit_is_whole_pages_in_bytes(self, store: Store) -> None:
        limit = store.limit_size(4_000_000)
        assert 4_000_000 - 65_536 < limit <= 4_000_000
