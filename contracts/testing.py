"""Sealed record chains for tests and benchmarks of either side (as structlog ships its own).

Records here are real: built through the contract models, sealed and chained as the
lane's store seals them, so that whatever takes them (central's ingest, a bench)
verifies them like a lane's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import GENESIS_HASH, LaneEventRecord, TransactionRecord
from contracts.records.transaction import Transaction
from contracts.uuid7 import uuid7

EPOCH = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def paid_exit(lane_id: str, at: datetime, fee: int = 500, plate: str = "ABC1234") -> Transaction:
    """An exit paid by card at ``at``, one hour after its entry."""
    return Transaction.build(
        id=uuid7(at),
        lane_id=lane_id,
        kind="exit",
        status="passed",
        authorisation="paid",
        recorded_at=at,
        plate_text=plate,
        plate_confidence=0.95,
        vehicle_class=1,
        entry_time=at - timedelta(hours=1),
        exit_time=at,
        tariff_id="demo-parking",
        tariff_version=1,
        currency="USD",
        fee_items=[{"label": "parking", "amount": fee}],
        fee_total=fee,
        payment_method="terminal",
        payment_status="approved",
    )


def transaction_chain(
    lane_id: str,
    count: int,
    *,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    start: datetime = EPOCH,
    step: timedelta = timedelta(seconds=30),
) -> Iterator[TransactionRecord]:
    """``count`` chained transaction records of ``lane_id`` from ``first_seq``."""
    for index in range(count):
        at = start + index * step
        record, _ = TransactionRecord.seal(
            paid_exit(lane_id, at, fee=100 + (first_seq + index) % 9 * 50),
            first_seq + index,
            prev_hash,
        )
        prev_hash = record.hash
        yield record


def event_chain(
    lane_id: str,
    count: int,
    *,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    start: datetime = EPOCH,
) -> Iterator[LaneEventRecord]:
    """``count`` chained lane events (loop_stuck warnings) of ``lane_id``."""
    for index in range(count):
        at = start + index * timedelta(seconds=10)
        event = LaneEvent.build(
            id=uuid7(at), lane_id=lane_id, time=at, kind="loop_stuck", severity="warning"
        )
        record, _ = LaneEventRecord.seal(event, first_seq + index, prev_hash)
        prev_hash = record.hash
        yield record
