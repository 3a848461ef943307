"""Passages left open by a crash, a power cut or a shutdown: resolved by rule, and recorded.

At start the daemon reads the lane's latest records. A transaction whose last
version is not final, or whose payment was asked and never answered, was
interrupted. The same rule settles it at start and at a shutdown that cannot
wait for the vehicle:

1. The payment is resolved first. A prepaid debit is looked up in the ledger by
   its idempotency key (never posted again); a QR order is brought to its final
   state through the gateway (closed; paid if the customer paid first). Nothing
   is charged anew.
2. A passage whose barrier had been opened is recorded ``passed`` when the
   arming loop is clear now (the vehicle went); any other, or one whose vehicle
   is still on the arming loop, is ``voided``. Both carry the flag
   ``interrupted``; a voided passage that was paid also carries ``refund_review``.
3. A paid passage leaves a credit for its plate: if the vehicle is still at the
   barrier, its next passage deducts what it paid (see
   :class:`~edge.daemon.lookup.Credits`), so it is not charged twice.

Every resolution is a new version of the transaction plus a
``passage_recovered`` lane event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from edge import log
from edge.daemon.lookup import Credit, Credits
from edge.daemon.recording import Recorder
from edge.payments.ids import debit_key_for
from edge.payments.outcome import Charged, Unavailable
from edge.payments.qr import QrPayments
from edge.records import FINAL_STATUSES, TransactionRecord, TxnStatus
from edge.store import Store

logger = log.get(__name__)

SCAN_RECORDS = 500
"""How far back the start looks: a lane has at most a few passages open at once."""


@dataclass(frozen=True)
class PaymentFound:
    status: str  # approved, declined or failed
    reference: str | None
    unresolved: bool = False


def posted_debit(store: Store, txn_id: str) -> str | None:
    """The reference of the prepaid debit posted for ``txn_id``, if one was posted.

    Looked up by its key: debiting again to find out would move money.
    """
    key = debit_key_for(txn_id)
    posting = store.accounts.posting(key)
    return None if posting is None else f"{posting.account_id}:{key}"


async def resolve_payment(
    record: TransactionRecord, store: Store, qr: QrPayments | None
) -> PaymentFound:
    """The final state of a payment that was asked and never answered."""
    txn_id = str(record.id)
    reference = posted_debit(store, txn_id)  # one indexed read, like every store call here
    if reference is not None:
        return PaymentFound("approved", reference)
    if qr is None or not record.fee_total or record.currency is None:
        return PaymentFound("failed", None)
    result = await asyncio.to_thread(qr.resolve, txn_id, record.fee_total, record.currency)
    if isinstance(result, Charged):
        return PaymentFound("approved", result.reference)
    if isinstance(result, Unavailable):
        return PaymentFound("failed", None, unresolved=True)
    return PaymentFound("declined", None)


def interrupted(record: TransactionRecord) -> bool:
    return record.status not in FINAL_STATUSES or record.payment_status == "requested"


async def resolve(
    record: TransactionRecord,
    *,
    recorder: Recorder,
    store: Store,
    qr: QrPayments | None,
    credits: Credits,
    now: datetime,
    credit_until: datetime,
    why: str,
    vehicle_present: bool,
) -> TransactionRecord:
    """Settle one interrupted transaction by the rule above; returns the recorded version."""
    payment_status: str = record.payment_status
    gateway_ref = record.gateway_ref
    flags = {*record.flags, "interrupted"}
    if record.payment_status == "requested":
        found = await resolve_payment(record, store, qr)
        payment_status, gateway_ref = found.status, found.reference or record.gateway_ref
        if found.unresolved:
            flags.add("payment_unresolved")
    paid = payment_status == "approved"
    status = record.status
    if status not in FINAL_STATUSES:
        passed = status == TxnStatus.AUTHORISED and not vehicle_present
        status = TxnStatus.PASSED if passed else TxnStatus.VOIDED
    if paid and status == TxnStatus.VOIDED:
        flags.add("refund_review")
    version = recorder.version(
        record,
        now,
        status=status,
        payment_status=payment_status,
        gateway_ref=gateway_ref,
        flags=tuple(sorted(flags)),
    )
    if paid and record.plate_text and record.status not in FINAL_STATUSES and record.fee_total:
        credits.add(record.plate_text, Credit(record.id, record.fee_total, credit_until))
    recorder.event(
        "passage_recovered",
        now,
        severity="warning",
        txn_id=record.id,
        detail={
            "why": why,
            "from_status": record.status,
            "to_status": status,
            "payment": payment_status,
        },
    )
    logger.warning(
        "passage_recovered", txn_id=str(record.id), from_status=record.status, to_status=status
    )
    return version


def open_records(store: Store, lane_id: str) -> list[TransactionRecord]:
    """The latest version of every interrupted transaction among the lane's last records."""
    last = store.sync_status(lane_id).txn.last_seq
    records = store.transactions(lane_id, max(1, last - SCAN_RECORDS + 1), SCAN_RECORDS)
    latest = {record.id: record for record in records}
    return [record for record in latest.values() if interrupted(record)]
