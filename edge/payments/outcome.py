"""What payments tell the daemon: one outcome per passage, and events to record.

A passage ends in exactly one :class:`PaymentOutcome` whose status is paid, not
paid or post-pay. Each method the chain tried leaves an :class:`Attempt`, so the
record shows why a vehicle ended where it did ("prepaid: balance 300 < 800; qr:
paid"). Things that happen outside a passage (a payment that landed after its
order was closed and was refunded, a forged callback) come as
:class:`PaymentEvent`; the daemon records each and raises alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from edge.payments.config import Method


@dataclass(frozen=True)
class PaymentRequest:
    """One vehicle's fee, to be settled. ``plate`` is None when it was not read.

    ``plate_order_id``: the driver typed the plate on the gateway's page (pay by
    plate); the QR order is started from that plate order.
    """

    txn_id: str
    plate: str | None
    amount: int
    currency: str
    description: str
    at: datetime
    plate_order_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError(
                f"amount: expected a non-negative integer of minor units, got {self.amount!r}"
            )
        if self.at.tzinfo is None:
            raise ValueError("at: expected an aware datetime")


@dataclass(frozen=True)
class Charged:
    """The method settled the fee."""

    method: Method
    amount: int
    reference: str
    order_id: str | None = None


@dataclass(frozen=True)
class Declined:
    """The method was asked and did not settle the fee (no permit, low balance, not paid).

    ``cancelled``: the lane withdrew the payment (the vehicle left); the chain
    tries no other method and post-pay does not apply.
    """

    method: Method
    reason: str
    cancelled: bool = False


@dataclass(frozen=True)
class Unavailable:
    """The method could not be asked (gateway down): a degraded mode.

    ``cancelled`` as for :class:`Declined`: here the close did not reach the gateway.
    """

    method: Method
    reason: str
    cancelled: bool = False


MethodResult = Charged | Declined | Unavailable


@dataclass(frozen=True)
class Attempt:
    method: Method
    result: str
    reason: str

    @classmethod
    def of(cls, result: MethodResult) -> Attempt:
        if isinstance(result, Charged):
            return cls(result.method, "charged", f"{result.amount} charged, ref {result.reference}")
        kind = "declined" if isinstance(result, Declined) else "unavailable"
        return cls(result.method, kind, result.reason)


class PaymentStatus(StrEnum):
    PAID = "paid"
    NOT_PAID = "not_paid"
    POSTPAY = "postpay"


@dataclass(frozen=True)
class PaymentOutcome:
    """How a passage's fee was settled: exactly one status, with method, reference and reason.

    ``method`` is the method that charged (None for a fee of zero and for
    post-pay and not-paid outcomes); ``reference`` is the gateway's payment
    reference, the permit id or the account debit reference.
    """

    status: PaymentStatus
    method: Method | None
    amount: int
    reference: str | None
    order_id: str | None
    reason: str
    attempts: tuple[Attempt, ...] = ()

    def __post_init__(self) -> None:
        if self.status is not PaymentStatus.PAID and (self.amount or self.method or self.reference):
            raise ValueError(f"{self.status.value}: no method, amount or reference may be set")


class NoticeVerdict(StrEnum):
    """What the lane made of a verified callback."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE_REFUNDED = "late_refunded"
    LATE_REFUND_PENDING = "late_refund_pending"
    WRONG_AMOUNT = "wrong_amount"
    UNKNOWN_ORDER = "unknown_order"

    @property
    def taken(self) -> bool:
        """Whether the gateway should consider the callback delivered."""
        return self not in (NoticeVerdict.WRONG_AMOUNT, NoticeVerdict.UNKNOWN_ORDER)


class AlarmKind(StrEnum):
    MISSING_HEADERS = "callback_missing_headers"
    BAD_SIGNATURE = "callback_bad_signature"
    STALE = "callback_stale"
    REPLAYED = "callback_replayed"
    MALFORMED = "callback_malformed"
    WRONG_AMOUNT = "callback_wrong_amount"
    UNKNOWN_ORDER = "callback_unknown_order"
    GATEWAY_REFUSED = "gateway_refused"
    ORDER_UNRESOLVED = "order_unresolved"
    REFUND_FAILED = "refund_failed"


@dataclass(frozen=True)
class PaymentAlarm:
    kind: AlarmKind
    detail: str
    order_id: str | None = None
    txn_id: str | None = None


@dataclass(frozen=True)
class LatePaymentRefunded:
    """A payment landed after the lane had given up on its order; it was refunded.

    The daemon records it as a new transaction referencing ``txn_id``.
    """

    txn_id: str
    order_id: str
    refund_id: str
    amount: int
    gateway_ref: str


PaymentEvent = PaymentAlarm | LatePaymentRefunded
EventSink = Callable[[PaymentEvent], None]
