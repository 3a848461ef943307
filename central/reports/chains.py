"""The hash chains central holds, walked from the first record: what a lane's store verify does.

Ingest checks each link as its second record arrives (:mod:`central.storage.chain`)
and raises ``chain_broken``; this walks what is stored, per lane and stream, in
``lane_seq`` order: a record must follow its predecessor without a gap and carry
its hash as ``prev_hash`` (the genesis hash for lane_seq 1), and, with
``check_content``, its stored canonical JSON must carry its own hash. The walk's
last record is the chain's head, which a lane's store can be compared with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, Table, select

from central.storage.schema import lane_events, transactions
from contracts.records.model import RecordError
from contracts.records.sealed import GENESIS_HASH, LaneEventRecord, SealedRecord, TransactionRecord

STREAMS: dict[str, tuple[Table, type[SealedRecord]]] = {
    "txn": (transactions, TransactionRecord),
    "event": (lane_events, LaneEventRecord),
}


@dataclass(frozen=True)
class StoredChain:
    """One lane's stream as central holds it."""

    lane_id: str
    stream: str
    records: int
    last_seq: int
    last_hash: str
    problem: str | None
    """The first break (``lane_seq N: ...``), or None when the chain holds."""

    @property
    def ok(self) -> bool:
        return self.problem is None


def stored_chains(
    engine: Engine, lane_ids: Iterable[str], *, check_content: bool = True
) -> list[StoredChain]:
    """The chains of ``lane_ids`` (each stream, lanes in the order given) walked in full."""
    chains = []
    with engine.connect() as connection:
        for lane_id in lane_ids:
            for stream, (table, record_type) in STREAMS.items():
                query = (
                    select(table.c.lane_seq, table.c.prev_hash, table.c.hash, table.c.canonical)
                    .where(table.c.lane_id == lane_id)
                    .order_by(table.c.lane_seq)
                )
                walk = _Walk(lane_id, stream)
                for row in connection.execute(query):
                    walk.step(row.lane_seq, row.prev_hash, row.hash)
                    if check_content and walk.problem is None:
                        walk.check_content(record_type, row.lane_seq, row.canonical)
                chains.append(walk.result())
    return chains


class _Walk:
    def __init__(self, lane_id: str, stream: str) -> None:
        self.lane_id = lane_id
        self.stream = stream
        self.records = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.problem: str | None = None

    def step(self, seq: int, prev_hash: str, hash_: str) -> None:
        if self.problem is None:
            if seq != self.last_seq + 1:
                self.problem = f"lane_seq {self.last_seq + 1}: missing (next held is {seq})"
            elif prev_hash != self.last_hash:
                self.problem = f"lane_seq {seq}: prev_hash is not lane_seq {seq - 1}'s hash"
        self.records += 1
        self.last_seq = seq
        self.last_hash = hash_

    def check_content(self, record_type: type[SealedRecord], seq: int, canonical: str) -> None:
        try:
            record = record_type.from_json(canonical)
        except RecordError as exc:
            self.problem = f"lane_seq {seq}: {exc}"
            return
        if record.hash != self.last_hash:
            self.problem = f"lane_seq {seq}: the hash column is not the record's"

    def result(self) -> StoredChain:
        return StoredChain(
            self.lane_id, self.stream, self.records, self.last_seq, self.last_hash, self.problem
        )
