"""Hand-built sealed transaction chains for central's report and reconciliation tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.mqtt.payloads import EventBatch, TxnBatch
from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import GENESIS_HASH, LaneEventRecord, TransactionRecord
from contracts.records.transaction import Transaction
from contracts.uuid7 import uuid7

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def voided(lane_id: str, at: datetime) -> Transaction:
    """A passage that backed out before paying: counted, takes nothing."""
    return Transaction.build(
        id=uuid7(at),
        lane_id=lane_id,
        kind="exit",
        status="voided",
        recorded_at=at,
        vehicle_class=2,
    )


def refund(original: Transaction, amount: int, at: datetime) -> Transaction:
    """A refund of ``amount`` of ``original``: no count, minus ``amount``."""
    return Transaction.build(
        lane_id=original.lane_id,
        kind=original.kind,
        status=original.status,
        recorded_at=at,
        vehicle_class=original.vehicle_class,
        currency=original.currency,
        fee_items=[{"label": "refund", "amount": -amount}],
        fee_total=-amount,
        payment_method=original.payment_method,
        payment_status="refunded",
        references=original.id,
    )


def version(original: Transaction, **changes: Any) -> Transaction:
    return Transaction.build(**{**original.model_dump(), **changes})


def seal(
    contents: Sequence[Transaction], first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> list[TransactionRecord]:
    sealed = []
    for index, content in enumerate(contents):
        record, _ = TransactionRecord.seal(content, first_seq + index, prev_hash)
        prev_hash = record.hash
        sealed.append(record)
    return sealed


def batch(plaza_id: str, records: Sequence[TransactionRecord]) -> TxnBatch:
    return TxnBatch(
        plaza_id=plaza_id, lane_id=records[0].lane_id, sent_at=NOW, records=tuple(records)
    )


class Lane:
    """One lane's two streams, sealed on from where the last call stopped."""

    def __init__(self, plaza_id: str, lane_id: str) -> None:
        self.plaza_id = plaza_id
        self.lane_id = lane_id
        self._txn = (1, GENESIS_HASH)
        self._event = (1, GENESIS_HASH)

    def txns(self, *contents: Transaction) -> TxnBatch:
        seq, prev = self._txn
        records = seal(contents, seq, prev)
        self._txn = (seq + len(records), records[-1].hash)
        return batch(self.plaza_id, records)

    def events(self, *happened: tuple[str, datetime]) -> EventBatch:
        """Lane events of ``(kind, time)``."""
        seq, prev = self._event
        records = []
        for kind, at in happened:
            event = LaneEvent.build(
                id=uuid7(at), lane_id=self.lane_id, time=at, kind=kind, severity="alarm"
            )
            record, _ = LaneEventRecord.seal(event, seq, prev)
            records.append(record)
            seq, prev = seq + 1, record.hash
        self._event = (seq, prev)
        return EventBatch(
            plaza_id=self.plaza_id, lane_id=self.lane_id, sent_at=NOW, records=tuple(records)
        )
