"""Sealed record chains for tests and benchmarks of either side (as structlog ships its own).

Records here are real: built through the contract models, sealed and chained as the
lane's store seals them, so that whatever takes them (central's ingest, a bench)
verifies them like a lane's. Generated chains (:func:`transaction_chain`,
:func:`event_chain`) are for volume; hand-built ones (:func:`seal`,
:class:`SealedLane` with :func:`voided`, :func:`refund`, :func:`version`) for
reports and reconciliation, where each record's content matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.mqtt.payloads import EventBatch, TxnBatch
from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import GENESIS_HASH, LaneEventRecord, TransactionRecord
from contracts.records.transaction import Transaction
from contracts.uuid7 import uuid7

EPOCH = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
"""When :func:`batch` and :class:`SealedLane` say their batches were sent."""


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


def rule_entry(lane_id: str, at: datetime, plate: str) -> Transaction:
    """An entry of ``plate`` at ``at``, admitted by rule and read with confidence 0.99."""
    return Transaction.build(
        id=uuid7(at),
        lane_id=lane_id,
        kind="entry",
        status="passed",
        authorisation="rule",
        recorded_at=at,
        plate_text=plate,
        plate_confidence=0.99,
        vehicle_class=1,
        entry_time=at,
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
    contents = (
        paid_exit(lane_id, start + index * step, fee=100 + (first_seq + index) % 9 * 50)
        for index in range(count)
    )
    return seal_chain(contents, first_seq, prev_hash)


def seal_chain(
    contents: Iterable[Transaction], first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> Iterator[TransactionRecord]:
    """``contents`` sealed in order from ``first_seq``, each chained to the one before."""
    for seq, content in enumerate(contents, first_seq):
        record, _ = TransactionRecord.seal(content, seq, prev_hash)
        prev_hash = record.hash
        yield record


def seal(
    contents: Sequence[Transaction], first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> list[TransactionRecord]:
    """:func:`seal_chain` as a list."""
    return list(seal_chain(contents, first_seq, prev_hash))


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
    """A later version of ``original`` (same id) with ``changes``."""
    return Transaction.build(**{**original.model_dump(), **changes})


def batch(plaza_id: str, records: Sequence[TransactionRecord]) -> TxnBatch:
    """The records in one ``txn`` payload of their lane, sent at :data:`NOW`."""
    return TxnBatch(
        plaza_id=plaza_id, lane_id=records[0].lane_id, sent_at=NOW, records=tuple(records)
    )


class SealedLane:
    """One lane's two streams, sealed on from where the last call stopped."""

    def __init__(self, plaza_id: str, lane_id: str) -> None:
        self.plaza_id = plaza_id
        self.lane_id = lane_id
        self._txn = (1, GENESIS_HASH)
        self._event = (1, GENESIS_HASH)

    def txns(self, *contents: Transaction) -> TxnBatch:
        """The next transactions of the lane, sealed on, as one batch."""
        seq, prev = self._txn
        records = seal(contents, seq, prev)
        self._txn = (seq + len(records), records[-1].hash)
        return batch(self.plaza_id, records)

    def events(self, *happened: tuple[str, datetime]) -> EventBatch:
        """Lane events (alarms) of ``(kind, time)``, sealed on, as one batch."""
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
