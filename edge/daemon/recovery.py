"""Passages left open by a crash, a power cut or a shutdown: their payments settled, then the rule.

At start the daemon reads the lane's latest records. A transaction whose last
version is not final, or whose payment was asked and never answered, was
interrupted; so was one whose payment an earlier start could not resolve (the
gateway was down: flag ``payment_unresolved``), until a start resolves it. The
shell does the I/O; the rule that settles each passage is the lane machine's
(:mod:`edge.lane.restart`), applied to what the records say:

1. The payment is resolved first. A prepaid debit is looked up in the ledger by
   its idempotency key (never posted again); a QR order is brought to its final
   state through the gateway (closed; paid if the customer paid first). Nothing
   is charged anew. A vehicle that backed out with its order open left such a
   payment too: its order is closed here, and if it was paid the machine
   refunds it (:mod:`edge.lane.abandoned`).
2. At start, the passages go to the machine in one
   :class:`~edge.lane.events.Restarted` event with the loops as found: the
   newest authorised (or paid) passage stays authorised for a vehicle still on
   the loops, other authorised ones passed, the rest are voided. At a shutdown
   they go to the machine in one :class:`~edge.lane.events.Stopping` event and
   nothing stays authorised (the barrier goes to its safe position): an
   authorised passage passed when the arming loop is clear, everything else is
   voided. Every resolution carries the flag ``interrupted``; a voided passage
   that was paid also carries ``refund_review``.
3. A voided paid passage is a credit for its plate (:mod:`edge.lane.credits`),
   found in these records by every later start until a passage uses it.

Every resolution is a new version of the transaction plus a
``passage_recovered`` lane event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.records.sealed import TransactionRecord
from contracts.records.vocab import FINAL_STATUSES
from edge.daemon.recording import Recorder, txn_of
from edge.lane.records import Flag, Txn
from edge.payments.ids import debit_key_for
from edge.payments.outcome import Charged, Unavailable
from edge.payments.qr import QrPayments
from edge.store import Store
from plumbing import log

logger = log.get(__name__)

SCAN_RECORDS = 500
"""How far back the start looks: a lane has at most a few passages open at once."""


@dataclass(frozen=True)
class PaymentFound:
    status: str  # approved, declined or failed
    reference: str | None
    unresolved: bool = False


@dataclass(frozen=True)
class Interrupted:
    """One passage the last run left open, its payment settled, as the machine sees it."""

    record: TransactionRecord
    """The latest stored version, as the last run left it."""
    txn: Txn


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


UNRESOLVED = Flag.PAYMENT_UNRESOLVED.value
"""The flag on a passage whose payment a start could not bring to its end."""


def unanswered(record: TransactionRecord) -> bool:
    """Whether the record's payment still waits for its final state (asked, or left unresolved)."""
    return record.payment_status == "requested" or UNRESOLVED in record.flags


def interrupted(record: TransactionRecord) -> bool:
    return record.status not in FINAL_STATUSES or unanswered(record)


def open_records(store: Store, lane_id: str) -> list[TransactionRecord]:
    """The latest version of every interrupted transaction among the lane's last records."""
    last = store.sync_status(lane_id).txn.last_seq
    records = store.transactions(lane_id, max(1, last - SCAN_RECORDS + 1), SCAN_RECORDS)
    latest = {record.id: record for record in records}
    return [record for record in latest.values() if interrupted(record)]


def recent_records(store: Store, lane_id: str, since: datetime) -> list[TransactionRecord]:
    """The lane's records from about ``since`` on, oldest first (read back a page at a time)."""
    last = store.sync_status(lane_id).txn.last_seq
    pages: list[list[TransactionRecord]] = []
    while last > 0:
        first = max(1, last - SCAN_RECORDS + 1)
        page = store.transactions(lane_id, first, last - first + 1)
        pages.append(page)
        if not page or page[0].recorded_at < since:
            break
        last = first - 1
    return [record for page in reversed(pages) for record in page]


async def interrupted_passages(
    store: Store, lane_id: str, qr: QrPayments | None
) -> list[Interrupted]:
    """Every interrupted passage, its payment brought to its final state, oldest first.

    Each is flagged ``interrupted`` (and ``payment_unresolved`` while its payment
    could not be brought to its end) for the versions recorded from now on.
    """
    found = []
    for record in open_records(store, lane_id):
        flags = [Flag.INTERRUPTED]
        settled = record
        if unanswered(record):
            payment = await resolve_payment(record, store, qr)
            settled = record.model_copy(
                update={
                    "payment_status": payment.status,
                    "gateway_ref": payment.reference or record.gateway_ref,
                    "flags": tuple(f for f in record.flags if f != UNRESOLVED),
                }
            )
            if payment.unresolved:
                flags.append(Flag.PAYMENT_UNRESOLVED)
        txn = txn_of(settled)
        found.append(Interrupted(record, replace(txn, flags=txn.flagged(*flags))))
    return found


def report_recovered(recorder: Recorder, passage: Interrupted, *, why: str, now: datetime) -> None:
    """The ``passage_recovered`` event of one passage once it is settled (and a log warning)."""
    before = passage.record
    after = recorder.store.transaction(before.id) or before
    recorder.event(
        "passage_recovered",
        now,
        severity="warning",
        txn_id=before.id,
        detail={
            "why": why,
            "from_status": before.status,
            "to_status": after.status,
            "payment": after.payment_status,
        },
    )
    logger.warning(
        "passage_recovered",
        txn_id=str(before.id),
        from_status=before.status,
        to_status=after.status,
    )
