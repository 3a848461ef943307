"""What a restart makes of the passages the last run left open, decided from the records.

A lane can die at any moment (SIGKILL, a power cut). At start the shell reads
the latest version of every transaction the last run left open, brings each
payment that was asked and never answered to its final state (the ledger or
the gateway says whether money was taken; nothing is charged anew), and hands
the machine one :class:`~edge.lane.events.Restarted` event with those
transactions and the loops as it finds them. The machine settles them by the
rules here, so that every start after any number of kills decides the same way
from the same records:

- **Resumed**: the newest passage that was authorised (or whose payment was
  approved before the machine could act on it) stays authorised when a vehicle
  is on the loops: the barrier is up for it (raised again if it is not), and
  its passing completes it, closing its entry. On the arming loop it is the
  passage in front of the barrier; on the safety loop alone it is leaving.
- **Passed**: any other authorised passage (the vehicle went; with the loops
  clear, there is no other reading), flagged ``passage_assumed``: a vehicle
  that backed off unseen looks the same, and its return corrects the guess
  (:mod:`edge.lane.assumed`).
- **Voided**: every passage not authorised. A voided passage whose payment was
  approved carries ``refund_review``; its money is a credit for the plate
  (:mod:`edge.lane.credits`), derived from this very record at every later
  start until a passage uses it or it is refunded.
- A passage already final whose payment was unanswered (the vehicle had gone)
  keeps its status and gets the payment's outcome; one that had backed out
  (voided) and turns out paid has that money refunded, not credited
  (:mod:`edge.lane.abandoned`: voided, then paid, is a refund).

A clean shutdown settles with :func:`settled` too, but resumes nothing: it
closes the barrier, so no authorisation stays standing; the vehicle's next
passage finds its credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from edge.lane.records import FINAL_STATUSES, Flag, PaymentStatus, Txn, TxnStatus

AUTHORISED_STATUSES = frozenset({TxnStatus.AUTHORISED, TxnStatus.BLOCKED})
_WAITING = frozenset({TxnStatus.ARRIVED, TxnStatus.PENDING_PAYMENT})


def resumable(txn: Txn) -> bool:
    """Whether the passage may stay authorised for a vehicle still at the lane."""
    paid = txn.payment_status is PaymentStatus.APPROVED
    return txn.status in AUTHORISED_STATUSES or (txn.status in _WAITING and paid)


def begun(txn: Txn) -> datetime:
    """When the passage began (the machine stamps it on the arrival)."""
    moment = txn.exit_time or txn.entry_time
    assert moment is not None, "the machine stamps every passage with its arrival"
    return moment


def to_resume(open_txns: Sequence[Txn], *, vehicle_present: bool) -> Txn | None:
    """The passage that stays authorised for the vehicle on the loops: the newest resumable one."""
    if not vehicle_present:
        return None
    candidates = [txn for txn in open_txns if resumable(txn) and txn.status not in FINAL_STATUSES]
    return max(candidates, key=lambda txn: (begun(txn), txn.id), default=None)


def settled(txn: Txn, *, went: bool) -> Txn:
    """The last version of an interrupted passage that is not resumed.

    ``went``: the vehicle is no longer at the lane (an authorised passage then passed).
    """
    status, flags = txn.status, txn.flags
    if status not in FINAL_STATUSES:
        status = TxnStatus.PASSED if went and status in AUTHORISED_STATUSES else TxnStatus.VOIDED
        if status is TxnStatus.PASSED:
            flags = txn.flagged(Flag.PASSAGE_ASSUMED)  # not seen: edge.lane.assumed
    if status is TxnStatus.VOIDED and txn.payment_status is PaymentStatus.APPROVED:
        flags = txn.flagged(Flag.REFUND_REVIEW)
    if status is TxnStatus.PASSED and txn.plate_text is None:
        flags = txn.flagged(*flags, Flag.UNREADABLE_PLATE)
    return replace(txn, status=status, flags=flags)
