"""What the lane machine asks the shell to do, in order.

The shell carries out one step's actions in list order. Three of them are
records (:class:`RecordTransaction`, :class:`RecordEvent`, :class:`RaiseAlarm`)
that the shell commits to SQLite synchronously before it goes on. Every action
that moves the barrier names, in ``because``, a record earlier in the same list;
every :class:`RequestPayment` follows a :class:`RecordTransaction` of its
transaction with the amount it asks for; every :class:`ClosePayment` follows
the record of its passage voided with the payment still requested, and every
:class:`RefundPayment` the record of the payment it gives back (``refund_due``).
So when the shell dies between two actions, nothing moved money or the barrier
without a durable record first, and a restart finds in the records what was
still to be closed or refunded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from edge.lane.events import Timer
from edge.lane.records import Flag, PaymentMethod, PaymentStatus, Txn, TxnStatus


class CaptureReason(StrEnum):
    ARRIVAL = "arrival"
    TAILGATE = "tailgate"
    BARRIER_FORCED = "barrier_forced"


class Message(StrEnum):
    """What the lane display tells the driver; the shell renders text and language."""

    PLEASE_PAY = "please_pay"  # with amount and currency
    PAYMENT_DECLINED = "payment_declined"  # try another card
    PROCEED = "proceed"
    PAID_BARRIER_FAULT = "paid_barrier_fault"  # you have paid; barrier fault; help is coming
    BARRIER_FAULT = "barrier_fault"  # barrier fault; help is coming
    HELP_CALLED = "help_called"  # please wait, an operator has been called
    LANE_CLOSED = "lane_closed"
    TYPE_PLATE = "type_plate"  # plate not read: scan the QR code to pay by typing it, or wait
    TURNED_AWAY = "turned_away"  # an operator refused the vehicle: please reverse


class Alarm(StrEnum):
    TAILGATE = "tailgate"
    BARRIER_FORCED = "barrier_forced"
    BARRIER_FAULT = "barrier_fault"
    PAID_BARRIER_FAULT = "paid_barrier_fault"
    LOOP_STUCK = "loop_stuck"
    UNREADABLE_PLATE = "unreadable_plate"
    BLACKLISTED = "blacklisted"
    ANTI_PASSBACK = "anti_passback"
    LOOKUP_FAILED = "lookup_failed"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_TIMEOUT = "payment_timeout"
    PAYMENT_MISMATCH = "payment_mismatch"
    LATE_PAYMENT = "late_payment"
    PAID_BACKED_OUT = "paid_backed_out"
    ASSISTANCE = "assistance"  # a driver waits at the barrier for a typed plate or an operator
    PASSAGE_CORRECTION_REVIEW = "passage_correction_review"  # corrected on a confusable plate


class EventKind(StrEnum):
    OPERATOR_OPEN = "operator_open"
    OPERATOR_CLOSE = "operator_close"
    MODE_CHANGED = "mode_changed"
    GRANT_EXPIRED = "grant_expired"
    BARRIER_RECOVERED = "barrier_recovered"
    BARRIER_CLOSE = "barrier_close"  # a close with no transaction behind it (deferred, stray)
    BARRIER_REOPEN = "barrier_reopen"  # the barrier fell while it had to stay open
    OPERATOR_PLATE = "operator_plate"  # an operator typed the plate of an unread vehicle
    OPERATOR_TURN_AWAY = "operator_turn_away"
    PASSAGE_CORRECTED = "passage_corrected"  # a passage a restart assumed had not happened


@dataclass(frozen=True)
class Capture:
    """Take evidence images now and keep them under ``txn_id``."""

    txn_id: UUID
    reason: CaptureReason


@dataclass(frozen=True)
class LookUpVehicle:
    """Check the lists, the open entries and (where vehicles pay) quote the fee.

    ``at`` is the vehicle's arrival: the exit time of an exit, the entry time of
    an entry. The shell answers with :class:`~edge.lane.events.VehicleChecked`
    or :class:`~edge.lane.events.LookupFailed`.
    """

    txn_id: UUID
    plate: str
    at: datetime


@dataclass(frozen=True)
class RecordTransaction:
    """Commit this version of the transaction before doing anything after it."""

    txn: Txn
    at: datetime


@dataclass(frozen=True)
class RecordEvent:
    """Commit a lane event (operator commands, mode changes, closes without a vehicle)."""

    id: UUID
    kind: EventKind
    at: datetime
    txn_id: UUID | None = None
    operator_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class RaiseAlarm:
    """Commit an alarm as a lane event and tell central; it calls an operator."""

    id: UUID
    alarm: Alarm
    at: datetime
    txn_id: UUID | None = None
    detail: str = ""


@dataclass(frozen=True)
class RequestPayment:
    """Ask for ``amount``; the key makes retries safe (one vehicle, one charge).

    ``key`` is ``"{txn_id}:{n}"``: ``n`` grows only after a definite decline, so a
    retry after an error or a timeout reuses the key and cannot charge twice.
    ``plate``: the vehicle's plate as recorded (permits, accounts, post-pay and
    pay by plate go by it), None when it was not read.
    """

    txn_id: UUID
    key: str
    amount: int
    currency: str
    method: PaymentMethod
    account: str | None = None
    plate: str | None = None


@dataclass(frozen=True)
class ClosePayment:
    """Close the order of ``txn_id``'s payment: its vehicle backed out before it was answered.

    Once closed, the order can no longer be paid (:mod:`edge.lane.abandoned`).
    The shell answers with the :class:`~edge.lane.events.PaymentResult` for
    ``key``: declined once the order is closed, approved when the customer paid
    before the close took effect, error when the gateway could not be reached
    (the order may still be paid; its record keeps the payment requested, so
    every start closes it until it is closed).
    """

    txn_id: UUID
    key: str


@dataclass(frozen=True)
class RefundPayment:
    """Give back ``amount`` taken for ``txn_id`` after the lane had closed its order.

    The record before it carries ``refund_due``. The shell refunds once (the
    refund's id derives from the order and the transaction, so any number of
    tries refund once) and records a refund that references ``txn_id``; until
    that record exists the records say the refund is due
    (:func:`edge.lane.credits.refunds_due`) and the shell tries again.
    """

    txn_id: UUID
    amount: int
    currency: str
    gateway_ref: str | None = None


@dataclass(frozen=True)
class OpenBarrier:
    because: UUID  # id of the record (transaction or event) earlier in the same list


@dataclass(frozen=True)
class CloseBarrier:
    because: (
        UUID  # id of the record earlier in the same list; never sent on an occupied safety loop
    )


@dataclass(frozen=True)
class ShowMessage:
    message: Message
    amount: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class WatchPlateOrders:
    """Watch the gateway for a plate the driver of ``txn_id`` types (pay by plate).

    The shell answers with :class:`~edge.lane.events.PlateTyped` when one comes,
    and stops watching once the passage no longer waits for it.
    """

    txn_id: UUID


@dataclass(frozen=True)
class StartTimer:
    """Start (or restart) the timer of this name; report its expiry with ``token``."""

    timer: Timer
    token: int
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    timer: Timer
    token: int


Action = (
    Capture
    | LookUpVehicle
    | RecordTransaction
    | RecordEvent
    | RaiseAlarm
    | RequestPayment
    | ClosePayment
    | RefundPayment
    | OpenBarrier
    | CloseBarrier
    | ShowMessage
    | WatchPlateOrders
    | StartTimer
    | CancelTimer
)


def record_id(action: Action) -> UUID | None:
    """The id a barrier action may name in ``because``, when ``action`` is a record."""
    if isinstance(action, RecordTransaction):
        return action.txn.id
    if isinstance(action, RecordEvent | RaiseAlarm):
        return action.id
    return None


def ordering_problems(actions: Sequence[Action]) -> list[str]:
    """Where a step's actions break "record first": empty when every move is preceded.

    The shell can run this before carrying a list out, as a last guard.
    """
    problems = []
    recorded: set[UUID] = set()
    pending: dict[UUID, int] = {}  # txn id -> amount recorded as pending payment
    latest: dict[UUID, Txn] = {}  # txn id -> the version recorded last in this list
    for index, action in enumerate(actions):
        ident = record_id(action)
        if ident is not None:
            recorded.add(ident)
        if isinstance(action, RecordTransaction):
            latest[action.txn.id] = action.txn
        if isinstance(action, RecordTransaction) and action.txn.fee_total is not None:
            requested = action.txn.payment_status is PaymentStatus.REQUESTED
            pending[action.txn.id] = action.txn.fee_total if requested else -1
        if isinstance(action, OpenBarrier | CloseBarrier) and action.because not in recorded:
            problems.append(f"action {index}: {action} names no record before it")
        if isinstance(action, RequestPayment) and pending.get(action.txn_id) != action.amount:
            problems.append(f"action {index}: {action} follows no record of that charge")
        if isinstance(action, ClosePayment) and not _abandoned(latest.get(action.txn_id)):
            problems.append(f"action {index}: {action} follows no record of the vehicle gone")
        if isinstance(action, RefundPayment) and not _refund_due(latest.get(action.txn_id)):
            problems.append(f"action {index}: {action} follows no record of the refund due")
    return problems


def _abandoned(txn: Txn | None) -> bool:
    return (
        txn is not None
        and txn.status is TxnStatus.VOIDED
        and txn.payment_status is PaymentStatus.REQUESTED
    )


def _refund_due(txn: Txn | None) -> bool:
    return (
        txn is not None
        and txn.payment_status is PaymentStatus.APPROVED
        and Flag.REFUND_DUE in txn.flags
    )
