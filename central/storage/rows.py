"""A sealed record as a row of its stream's table: search columns plus canonical JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from central.storage.schema import lane_events, transactions
from contracts.mqtt.payloads import Stream
from contracts.plates import plate_key
from contracts.records.sealed import LaneEventRecord, SealedRecord, TransactionRecord

Row = dict[str, Any]


def _sealed(
    record: TransactionRecord | LaneEventRecord,
    plaza_id: str,
    received_at: datetime,
    canonical: str | None,
) -> Row:
    return {
        "lane_id": record.lane_id,
        "lane_seq": record.lane_seq,
        "plaza_id": plaza_id,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "record_version": record.record_version,
        "received_at": received_at,
        "canonical": record.to_json() if canonical is None else canonical,
    }


def transaction_row(
    record: SealedRecord, plaza_id: str, received_at: datetime, canonical: str | None = None
) -> Row:
    """The row of ``record``; ``canonical`` its canonical JSON when the caller has it."""
    if not isinstance(record, TransactionRecord):
        raise TypeError(f"a {type(record).__name__} is not a transaction record")
    row = _sealed(record, plaza_id, received_at, canonical)
    row.update(
        txn_id=record.id,
        kind=record.kind,
        status=record.status,
        authorisation=record.authorisation,
        recorded_at=record.recorded_at,
        plate_text=record.plate_text,
        plate_key=plate_key(record.plate_text) if record.plate_text is not None else None,
        plate_pseudonym=record.plate_pseudonym,
        plate_confidence=record.plate_confidence,
        vehicle_class=record.vehicle_class,
        listing=record.listing,
        entry_time=record.entry_time,
        exit_time=record.exit_time,
        entry_plaza=record.entry_plaza,
        entry_txn_id=record.entry_txn_id,
        tariff_id=record.tariff_id,
        tariff_version=record.tariff_version,
        currency=record.currency,
        fee_total=record.fee_total,
        payment_method=record.payment_method,
        payment_status=record.payment_status,
        gateway_ref=record.gateway_ref,
        operator_id=record.operator_id,
        references_id=record.references,
    )
    return row


def event_row(
    record: SealedRecord, plaza_id: str, received_at: datetime, canonical: str | None = None
) -> Row:
    """The row of ``record``; ``canonical`` its canonical JSON when the caller has it."""
    if not isinstance(record, LaneEventRecord):
        raise TypeError(f"a {type(record).__name__} is not a lane event record")
    row = _sealed(record, plaza_id, received_at, canonical)
    row.update(
        event_id=record.id,
        time=record.time,
        kind=record.kind,
        severity=record.severity,
        txn_id=record.txn_id,
        operator_id=record.operator_id,
    )
    return row


@dataclass(frozen=True)
class StreamSpec:
    """Where a stream's records live and how one becomes a row."""

    table: Table
    record_type: type[TransactionRecord] | type[LaneEventRecord]
    row: Callable[[SealedRecord, str, datetime, str | None], Row]


STREAMS: dict[Stream, StreamSpec] = {
    "txn": StreamSpec(transactions, TransactionRecord, transaction_row),
    "event": StreamSpec(lane_events, LaneEventRecord, event_row),
}
