"""A passage a restart assumed passed, corrected when its vehicle comes back.

A paid vehicle that backs off under the open barrier as the lane dies leaves an
authorised passage and clear loops behind: the restart cannot tell it from a
vehicle that drove through, records it ``passed`` (which closes its entry) and
flags it ``passage_assumed`` (:mod:`edge.lane.restart`). Were that all, the
vehicle coming back would find no entry, be priced as an unmatched exit and pay
again (issue 14). So the guess is corrected when the evidence comes: the
plate's next passage at this lane, within the credit window after the assumed
one (:func:`~edge.lane.credits.credit_window`) and with no open entry of its
own, is taken to be the same vehicle:

- it keeps the assumed passage's entry (the exit record kept its id, time and
  plaza), so it is priced from the real entry;
- what the assumed passage was worth (what it paid, and the credits it had
  deducted itself) is a credit its fee deducts, one line naming the assumed
  passage (:func:`~edge.lane.credits.credit_item`): nothing is taken twice;
- it is flagged ``passage_corrected``, and the machine records a lane event
  ``passage_corrected`` naming the assumed passage.

The assumed passage's record is not rewritten: its payment was taken and is
counted once, on its settled version (:mod:`contracts.reconcile`; a second
settled version would count it twice). The later passage's credit line and its
entry are the record of the correction, and they take the assumed passage as a
deduction takes a credit (:mod:`edge.lane.credits`): held while that passage is
in progress, for good when it is not voided; voided in turn (it backed off
again), the assumed passage is the plate's again. A passage that takes one and
is itself assumed passes its worth on, so a chain of kills still charges once.

The bound, and the other reading. Only this lane's records, only the credit
window, only when the lookup found no open entry for the plate (a vehicle that
did drive out and came in again has one: its new stay is priced from it and the
assumed passage stands). The plate read exactly wins; otherwise the one plate
that differs only in confusable characters, as entries are matched, also
corrects, with the ``passage_correction_review`` alarm, since it may be another
vehicle. If the vehicle did drive through and another arrives in the window with
its plate (or a confusable one) and no entry, that one is priced from the
first's entry less what the first paid, not as an unmatched exit: the lane may
be underpaid, a customer is never charged twice, and the event, the flag and
the alarm put it before a reviewer; the money itself appears once in the
records (on the assumed passage), and the credit line says where it went. A
vehicle that backed off and comes back after the window pays as an unmatched
exit; the paid ``passage_assumed`` record is the way back to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from contracts.records.transaction import Transaction
from contracts.records.vocab import PaymentStatus, TxnKind, TxnStatus
from edge.lane.credits import Credit, credited_txn
from edge.lane.events import Correction
from edge.lane.records import Flag, OpenEntry


@dataclass(frozen=True)
class Assumed:
    """A passage a restart recorded ``passed`` unseen, that the plate's return may still take."""

    txn_id: UUID
    plate: str
    worth: int  # paid, plus the credits it deducted: what a returning vehicle is owed
    currency: str | None
    until: datetime
    began: datetime
    entry_txn_id: UUID | None
    entry_at: datetime | None
    entry_plaza: str | None
    vehicle_class: int | None

    def entry(self, entry_lane: str) -> OpenEntry | None:
        """The entry it closed (``entry_lane``: where that entry was recorded), if it had one."""
        if self.entry_txn_id is None or self.entry_at is None or self.entry_plaza is None:
            return None
        return OpenEntry(self.entry_txn_id, self.entry_at, self.entry_plaza, entry_lane)

    def credit(self) -> Credit | None:
        """Its worth as a credit for the returning vehicle's fee; None when it was worth nothing."""
        if self.worth <= 0 or self.currency is None:
            return None
        return Credit(self.txn_id, self.plate, self.worth, self.currency, self.until)

    def correction(self, *, same_plate: bool) -> Correction:
        return Correction(self.txn_id, self.plate, same_plate)


def _credited(record: Transaction) -> set[UUID]:
    return {
        txn_id
        for item in record.fee_items
        if item.amount < 0 and (txn_id := credited_txn(item.label)) is not None
    }


def _worth(record: Transaction) -> int:
    paid = (record.fee_total or 0) if record.payment_status == PaymentStatus.APPROVED else 0
    deducted = sum(-item.amount for item in record.fee_items if credited_txn(item.label))
    return paid + deducted


def assumed_passages(
    latest: Iterable[Transaction], window: timedelta, *, holder: UUID | None = None
) -> list[Assumed]:
    """The assumed passages no later passage has taken, oldest first.

    ``latest`` holds the latest version of each recent transaction of the lane.
    A passage takes an assumed one when its fee deducts it, or when it closes
    the same entry and began later; not when it is voided, nor when it is
    ``holder`` (the passage asking keeps what it had taken).
    """
    records = [record for record in latest if record.references is None]
    candidates = [
        record
        for record in records
        if record.status == TxnStatus.PASSED
        and record.kind == TxnKind.EXIT
        and Flag.PASSAGE_ASSUMED in record.flags
    ]
    takers = [r for r in records if r.status != TxnStatus.VOIDED and r.id != holder]
    found = []
    for record in candidates:
        began, plate = record.exit_time, record.plate_text
        if began is None or plate is None:
            continue  # no plate to come back with (flagged unreadable_plate for review)
        taken = any(
            record.id in _credited(taker)
            or (
                record.entry_txn_id is not None
                and taker.entry_txn_id == record.entry_txn_id
                and taker.exit_time is not None
                and taker.exit_time > began
            )
            for taker in takers
            if taker.id != record.id
        )
        if not taken:
            found.append(
                Assumed(
                    record.id,
                    plate,
                    _worth(record),
                    record.currency,
                    record.recorded_at + window,
                    began,
                    record.entry_txn_id,
                    record.entry_time,
                    record.entry_plaza,
                    record.vehicle_class,
                )
            )
    return sorted(found, key=lambda assumed: (assumed.began, assumed.txn_id))
