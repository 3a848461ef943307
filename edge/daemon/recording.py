"""Writing what the lane decided into its store, durably, before anything else happens.

The lane machine speaks :class:`~edge.lane.records.Txn` and alarm/event actions;
the store keeps :class:`~contracts.records.transaction.Transaction` and :class:`~contracts.records.lane_event.LaneEvent`.
:class:`Recorder` converts one into the other and commits it: when a method
returns, the record is on disk. The conversion adds nothing: every field of a
transaction is the machine's (the facts the shell learns, such as evidence
image ids and the settling method, reach it in events).

Entry lanes open the plate's entry when the entry passes; exit lanes close it when
the exit passes; both in the same commit as the record (``Store.batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from uuid import UUID

from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import LaneEventRecord, TransactionRecord
from contracts.records.transaction import FeeItem, Transaction
from contracts.records.vocab import DetailValue, Severity
from contracts.uuid7 import uuid7
from edge.fees.passage import FeeLine
from edge.lane.actions import RaiseAlarm, RecordEvent
from edge.lane.records import (
    Authorisation,
    Flag,
    Listing,
    PaymentMethod,
    PaymentStatus,
    Txn,
    TxnKind,
    TxnStatus,
)
from edge.metrics import LaneMetrics
from edge.store import Store
from plumbing import log

logger = log.get(__name__)


def transaction_of(txn: Txn, at: datetime) -> Transaction:
    """The store's view of one version of a machine transaction, recorded at ``at``."""
    return Transaction.build(
        id=txn.id,
        lane_id=txn.lane_id,
        kind=txn.kind,
        status=txn.status,
        authorisation=txn.authorisation,
        recorded_at=at,
        plate_text=txn.plate_text,
        plate_confidence=txn.plate_confidence,
        vehicle_class=txn.vehicle_class,
        listing=txn.listing,
        entry_time=txn.entry_time,
        exit_time=txn.exit_time,
        entry_plaza=txn.entry_plaza,
        entry_txn_id=txn.entry_txn_id,
        tariff_id=txn.tariff_id,
        tariff_version=txn.tariff_version,
        currency=txn.currency,
        fee_items=tuple(FeeItem(label=i.label, amount=i.amount) for i in txn.fee_items),
        fee_total=txn.fee_total,
        payment_method=txn.payment_method,
        payment_status=txn.payment_status,
        gateway_ref=txn.gateway_ref,
        evidence_image_ids=txn.evidence_image_ids,
        operator_id=txn.operator_id,
        operator_reason=txn.operator_reason,
        flags=tuple(flag.value for flag in txn.flags),
    )


def event_of(action: RecordEvent | RaiseAlarm, lane_id: str) -> LaneEvent:
    """The store's view of a lane event or alarm the machine decided."""
    if isinstance(action, RecordEvent):
        kind, severity, operator_id = action.kind.value, "info", action.operator_id
        detail: dict[str, DetailValue] = {"reason": action.reason} if action.reason else {}
    else:
        kind, severity, operator_id = action.alarm.value, "alarm", None
        detail = {"detail": action.detail} if action.detail else {}
    return LaneEvent.build(
        id=action.id,
        lane_id=lane_id,
        time=action.at,
        kind=kind,
        severity=severity,
        txn_id=action.txn_id,
        operator_id=operator_id,
        detail=detail,
    )


def txn_of(record: TransactionRecord) -> Txn:
    """The machine's view of a stored version: the inverse of :func:`transaction_of`.

    A restart hands the passages the last run left open back to the machine.
    A flag the machine does not know (written by another version of lanewarden)
    cannot be carried on and is logged.
    """
    machine_flags = {flag.value for flag in Flag}
    unknown = [flag for flag in record.flags if flag not in machine_flags]
    if unknown:
        logger.warning("record_flags_unknown", txn_id=str(record.id), flags=",".join(unknown))
    return Txn(
        id=record.id,
        lane_id=record.lane_id,
        kind=TxnKind(record.kind),
        status=TxnStatus(record.status),
        authorisation=Authorisation(record.authorisation) if record.authorisation else None,
        plate_text=record.plate_text,
        plate_confidence=record.plate_confidence,
        vehicle_class=record.vehicle_class,
        listing=Listing(record.listing) if record.listing else None,
        entry_time=record.entry_time,
        exit_time=record.exit_time,
        entry_plaza=record.entry_plaza,
        entry_txn_id=record.entry_txn_id,
        tariff_id=record.tariff_id,
        tariff_version=record.tariff_version,
        fee_items=tuple(FeeLine(item.label, item.amount) for item in record.fee_items),
        fee_total=record.fee_total,
        currency=record.currency,
        payment_method=PaymentMethod(record.payment_method) if record.payment_method else None,
        payment_status=PaymentStatus(record.payment_status),
        gateway_ref=record.gateway_ref,
        operator_id=record.operator_id,
        operator_reason=record.operator_reason,
        evidence_image_ids=tuple(record.evidence_image_ids),
        flags=tuple(Flag(flag) for flag in record.flags if flag in machine_flags),
    )


def refund_of(
    original: Transaction, amount: int, gateway_ref: str | None, at: datetime
) -> Transaction:
    """The record of a refund of ``amount`` paid for ``original`` (it references it): net zero."""
    return Transaction.build(
        lane_id=original.lane_id,
        kind=original.kind,
        status=original.status,
        recorded_at=at,
        plate_text=original.plate_text,
        currency=original.currency,
        fee_items=(
            FeeItem(label="late payment received", amount=amount),
            FeeItem(label="late payment refunded", amount=-amount),
        ),
        fee_total=0,
        payment_method=PaymentMethod.TERMINAL.value,
        payment_status="refunded",
        gateway_ref=gateway_ref or None,
        references=original.id,
        flags=("late_payment",),
    )


class Recorder:
    """Commits transactions and lane events of one lane; each call is durable on return.

    ``observe`` hears every transaction version once it is stored (the lane's
    credits are kept from them).
    """

    def __init__(
        self,
        store: Store,
        lane_id: str,
        metrics: LaneMetrics,
        observe: Callable[[TransactionRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.lane_id = lane_id
        self.metrics = metrics
        self.observe = observe or (lambda _record: None)

    def transaction(self, txn: Txn, at: datetime) -> TransactionRecord:
        content = transaction_of(txn, at)
        with self.store.batch():
            record = self.store.append_transaction(content)
            if txn.status is TxnStatus.PASSED and txn.plate_text is not None:
                self._entries(txn, record)
        self.observe(record)
        logger.info(
            "txn_recorded",
            lane_id=self.lane_id,
            txn_id=str(txn.id),
            status=txn.status.value,
            lane_seq=record.lane_seq,
        )
        return record

    def _entries(self, txn: Txn, record: TransactionRecord) -> None:
        applied = self.store.entries.apply(record)
        if applied.change == "opened" and applied.replaced is not None:
            # Admitted anyway (operator, no anti-passback): the newer entry is the truth.
            logger.warning(
                "entry_replaced", plate=txn.plate_text, old_txn_id=str(applied.replaced.txn_id)
            )

    def refund(
        self, original: TransactionRecord, amount: int, gateway_ref: str | None, at: datetime
    ) -> None:
        """A payment that landed after its order was closed, and was refunded: net zero."""
        content = refund_of(original, amount, gateway_ref, at)
        self.observe(self.store.append_transaction(content))

    def machine_event(self, action: RecordEvent) -> LaneEventRecord:
        return self.store.append_event(event_of(action, self.lane_id))

    def alarm(self, action: RaiseAlarm) -> LaneEventRecord:
        logger.warning(
            "alarm", lane_id=self.lane_id, alarm=action.alarm.value, detail=action.detail
        )
        self.metrics.alarm(action.alarm.value)
        return self.store.append_event(event_of(action, self.lane_id))

    def event(
        self,
        kind: str,
        at: datetime,
        *,
        severity: Severity = "info",
        txn_id: UUID | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> LaneEventRecord:
        """A lane event the shell itself decides to record (degraded modes, timings, start)."""
        if severity == "alarm":
            logger.warning("alarm", lane_id=self.lane_id, alarm=kind, **dict(detail or {}))
            self.metrics.alarm(kind)
        return self._event(uuid7(at), kind, severity, at, txn_id, None, dict(detail or {}))

    def raised(self, kind: str, at: datetime, detail: Mapping[str, DetailValue]) -> LaneEventRecord:
        """An alarm logged and counted when it was raised at ``at``, recorded only now
        (the store could not take it then)."""
        return self._event(uuid7(at), kind, "alarm", at, None, None, dict(detail))

    def _event(  # noqa: PLR0917 - every field of a lane event, in the record's order
        self,
        event_id: UUID,
        kind: str,
        severity: Severity,
        at: datetime,
        txn_id: UUID | None,
        operator_id: str | None,
        detail: dict[str, DetailValue],
    ) -> LaneEventRecord:
        content = LaneEvent.build(
            id=event_id,
            lane_id=self.lane_id,
            time=at,
            kind=kind,
            severity=severity,
            txn_id=txn_id,
            operator_id=operator_id,
            detail=detail,
        )
        return self.store.append_event(content)
