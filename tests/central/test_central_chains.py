"""Central's stored chains walked from lane_seq 1: clean, a gap, a broken link, altered content."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from central.reports.chains import StoredChain, stored_chains
from central.storage import CentralStore
from central.storage.schema import transactions
from contracts.mqtt.payloads import EventBatch, TxnBatch
from contracts.records.sealed import GENESIS_HASH, TransactionRecord
from contracts.testing import event_chain, transaction_chain

PLAZA = "plaza-1"
LANE = "lane-1"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def txns() -> tuple[TransactionRecord, ...]:
    return tuple(transaction_chain(LANE, 5))


@pytest.fixture
def store(tmp_path: Path, txns: tuple[TransactionRecord, ...]) -> CentralStore:
    opened = CentralStore.open(f"sqlite:///{tmp_path / 'central.db'}")
    events = tuple(event_chain(LANE, 3))
    opened.store_batch(
        PLAZA, TxnBatch(plaza_id=PLAZA, lane_id=LANE, sent_at=NOW, records=txns), NOW
    )
    opened.store_batch(
        PLAZA, EventBatch(plaza_id=PLAZA, lane_id=LANE, sent_at=NOW, records=events), NOW
    )
    return opened


def txn_chain(store: CentralStore) -> StoredChain:
    chains = {chain.stream: chain for chain in stored_chains(store.engine, [LANE])}
    return chains["txn"]


class TestStoredChains:
    """Every lane's stream walked in full; the first break is named."""

    def test_clean_chains_and_their_heads(
        self, store: CentralStore, txns: tuple[TransactionRecord, ...]
    ) -> None:
        with store:
            chains = stored_chains(store.engine, [LANE, "lane-never-seen"])
        last_txn = txns[-1]
        by_key = {(c.lane_id, c.stream): c for c in chains}
        txn = by_key[(LANE, "txn")]
        assert (txn.ok, txn.records, txn.last_seq, txn.last_hash) == (True, 5, 5, last_txn.hash)
        assert by_key[(LANE, "event")].last_seq == 3
        empty = by_key[("lane-never-seen", "txn")]
        assert (empty.ok, empty.records, empty.last_seq, empty.last_hash) == (
            True,
            0,
            0,
            GENESIS_HASH,
        )

    def test_a_missing_record_is_a_gap(self, store: CentralStore) -> None:
        with store:
            with store.engine.begin() as connection:
                connection.execute(delete(transactions).where(transactions.c.lane_seq == 3))
            chain = txn_chain(store)
        assert chain.problem == "lane_seq 3: missing (next held is 4)"

    def test_a_broken_link_is_named(self, store: CentralStore) -> None:
        with store:
            with store.engine.begin() as connection:
                connection.execute(
                    update(transactions)
                    .where(transactions.c.lane_seq == 4)
                    .values(prev_hash="0" * 64)
                )
            chain = txn_chain(store)
        assert chain.problem == "lane_seq 4: prev_hash is not lane_seq 3's hash"

    def test_altered_content_fails_its_hash(self, store: CentralStore) -> None:
        with store:
            with store.engine.begin() as connection:
                row = connection.execute(
                    transactions.select().where(transactions.c.lane_seq == 2)
                ).one()
                altered = row.canonical.replace('"fee_total":', '"fee_total":1', 1)
                assert altered != row.canonical
                connection.execute(
                    update(transactions)
                    .where(transactions.c.lane_seq == 2)
                    .values(canonical=altered)
                )
            chain = txn_chain(store)
            unchecked = stored_chains(store.engine, [LANE], check_content=False)[0]
        assert chain.problem is not None
        assert chain.problem.startswith("lane_seq 2: ")
        assert unchecked.ok
