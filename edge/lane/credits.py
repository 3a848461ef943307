"""Money a vehicle paid for a passage that did not happen, derived from the records alone.

A credit is a payment that was taken for a passage whose last version is
``voided`` with its payment ``approved``: the vehicle backed away after paying,
or a restart voided a paid passage it could not resume. A payment that landed
after the passage was voided (its order closed) is not a credit but a refund
(:mod:`edge.lane.abandoned`): its record carries ``refund_due``, and
:func:`refunds_due` finds it in the same records until a refund references it.
A credit belongs to the passage's plate, and the plate's next
passage at the lane deducts it from its fee (a fee item made by
:func:`credit_item`, naming the credit's transaction), until one of these is
recorded:

- a later passage deducts it: the deduction is held while that passage is in
  progress and spent when it passes (or goes through anyway); when that passage
  is voided in turn, the credit is the plate's again;
- a refund of it: a record whose ``references`` names it, payment ``refunded``;
- its time runs out (:func:`credit_window` after it was voided); the
  ``refund_review`` flag on the voided record is then the way back.

Nothing of it lives only in memory: :func:`credits` reads it from the latest
version of the lane's recent transactions, so every start, after any number
of restarts, finds the same credits as the run before it had.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from contracts.records.transaction import Transaction
from contracts.records.vocab import PaymentStatus, TxnStatus
from edge.fees.passage import Fee, FeeLine
from edge.lane.records import Flag

CREDIT_LABEL = "paid before a lane restart"
"""Label of the fee line that deducts a credit; the line names the credit's transaction."""

_CREDIT_ITEM = re.compile(rf"{re.escape(CREDIT_LABEL)} \(txn ([0-9a-f-]{{36}})\)")


@dataclass(frozen=True)
class Credit:
    """A payment the plate's next passage deducts, valid until ``until``."""

    txn_id: UUID
    plate: str
    amount: int
    currency: str
    until: datetime


def credit_window(pass_timeout_s: float) -> timedelta:
    """How long a payment for a passage that did not happen is kept for its vehicle."""
    return timedelta(seconds=max(600.0, 4 * pass_timeout_s))


def credit_item(credit: Credit, amount: int) -> FeeLine:
    """The fee line deducting ``amount`` of ``credit`` (a negative amount)."""
    return FeeLine(f"{CREDIT_LABEL} (txn {credit.txn_id})", -amount)


def credited_txn(label: str) -> UUID | None:
    """The transaction whose credit a fee line deducts; None for any other line."""
    match = _CREDIT_ITEM.fullmatch(label)
    return UUID(match.group(1)) if match else None


def credits(
    latest: Iterable[Transaction], window: timedelta, *, holder: UUID | None = None
) -> list[Credit]:
    """The credits that exist, oldest first, from the latest version of each recent transaction.

    Deductions recorded by ``holder`` (the passage asking) do not count as used:
    a passage whose lookup is answered again keeps what it had taken.
    """
    owed: dict[UUID, Credit] = {}
    used: set[UUID] = set()
    refunded: set[UUID] = set()
    for record in latest:
        if record.references is not None and record.payment_status == PaymentStatus.REFUNDED:
            refunded.add(record.references)
        if record.status != TxnStatus.VOIDED and record.id != holder:
            used.update(
                txn_id
                for item in record.fee_items
                if item.amount < 0 and (txn_id := credited_txn(item.label)) is not None
            )
        if (
            record.status == TxnStatus.VOIDED
            and record.payment_status == PaymentStatus.APPROVED
            and record.references is None
            and Flag.REFUND_DUE not in record.flags
            and record.plate_text is not None
            and record.currency is not None
            and (record.fee_total or 0) > 0
        ):
            owed[record.id] = Credit(
                record.id,
                record.plate_text,
                record.fee_total or 0,
                record.currency,
                record.recorded_at + window,
            )
    left = [credit for txn_id, credit in owed.items() if txn_id not in used | refunded]
    return sorted(left, key=lambda credit: (credit.until, credit.txn_id))


def refunds_due(latest: Iterable[Transaction]) -> list[Transaction]:
    """The paid records flagged ``refund_due`` that no refund references yet, in record order.

    ``latest`` holds the latest version of each recent transaction, refunds included.
    """
    records = list(latest)
    refunded = {
        record.references
        for record in records
        if record.references is not None and record.payment_status == PaymentStatus.REFUNDED
    }
    return [
        record
        for record in records
        if Flag.REFUND_DUE in record.flags
        and record.payment_status == PaymentStatus.APPROVED
        and record.references is None
        and record.id not in refunded
    ]


def deduct(fee: Fee, available: Iterable[Credit]) -> Fee:
    """``fee`` less the credits, oldest first, one fee line each, never below zero."""
    due, items = fee.total, list(fee.items)
    for credit in available:
        if due == 0:
            break
        deducted = min(due, credit.amount)
        items.append(credit_item(credit, deducted))
        due -= deducted
    return replace(fee, items=tuple(items), total=due)
