"""Hand-built sealed transaction chains for central's report and reconciliation tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.mqtt.payloads import TxnBatch
from contracts.records.sealed import GENESIS_HASH, TransactionRecord
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
