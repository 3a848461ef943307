"""Carrying out ``RequestPayment``: the payment chain, and what its outcome means to the lane.

The chain (permit, prepaid account, QR gateway, post-pay) blocks while the
customer pays, so it runs in a thread and answers the machine with a
``PaymentResult`` event:

=====================================  ==========================================
chain outcome                          ``PaymentResult`` for the lane machine
=====================================  ==========================================
paid                                   approved, with the amount, reference and
                                       method (account or terminal)
post-pay (bill by plate)               post-pay: the machine admits it by rule,
                                       payment none (nothing taken), flagged postpay
not paid, the gateway was unreachable  error: asked again under the same key,
                                       then fail-open or an operator by policy
not paid                               declined (definite)
=====================================  ==========================================

Every use of the gateway-down degraded mode is reported so the daemon records it
and raises an alarm. The store's lists and accounts serve the chain through
:class:`StorePermits` and :class:`StorePrepaid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from edge.lane.actions import RequestPayment
from edge.lane.events import PaymentOutcome as LaneOutcome
from edge.lane.events import PaymentResult
from edge.lane.records import PaymentMethod
from edge.payments.accounts import Debit, Debited, InsufficientBalance, NoAccount
from edge.payments.config import Method
from edge.payments.outcome import PaymentOutcome, PaymentRequest, PaymentStatus
from edge.store import InsufficientFundsError, Store, UnknownAccountError


class StorePermits:
    """Permits as the payment chain sees them: the store's permit list."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, plate: str, at: datetime) -> str | None:
        return f"permit:{plate}" if "permit" in self.store.lists.lookup(plate, at) else None


class StorePrepaid:
    """Prepaid accounts as the payment chain sees them: the store's idempotent ledger."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def debit(self, plate: str, amount: int, currency: str, key: str) -> Debit:
        account = self.store.accounts.for_plate(plate)
        if account is None or account.currency != currency:
            return NoAccount(plate)
        try:
            posting = self.store.accounts.debit(account.account_id, amount, key, datetime.now(UTC))
        except InsufficientFundsError as exc:
            return InsufficientBalance(account.account_id, exc.balance)
        except UnknownAccountError:
            return NoAccount(plate)
        return Debited(
            account.account_id, amount, posting.balance_after, f"{account.account_id}:{key}"
        )


METHODS = {Method.PREPAID: PaymentMethod.ACCOUNT, Method.QR: PaymentMethod.TERMINAL}
"""The record's method for a chain method that charged (a permit takes nothing: none)."""


@dataclass(frozen=True)
class Settled:
    """The chain's outcome for one request and the machine event it becomes."""

    outcome: PaymentOutcome
    result: PaymentResult
    gateway_down: bool


def payment_request(
    action: RequestPayment, plate: str | None, at: datetime, plate_order_id: str | None = None
) -> PaymentRequest:
    return PaymentRequest(
        txn_id=str(action.txn_id),
        plate=plate,
        amount=action.amount,
        currency=action.currency,
        description=f"lane fee {action.txn_id}",
        at=at,
        plate_order_id=plate_order_id,
    )


def lane_result(action: RequestPayment, outcome: PaymentOutcome) -> Settled:
    """Translate the chain's outcome into the machine's answer for ``action``."""
    gateway_down = any(
        a.method is Method.QR and a.result == "unavailable" for a in outcome.attempts
    )
    if outcome.status is PaymentStatus.PAID:
        result = PaymentResult(
            action.txn_id,
            action.key,
            LaneOutcome.APPROVED,
            outcome.amount,
            outcome.reference,
            outcome.reason,
            METHODS.get(outcome.method) if outcome.method else None,
        )
    elif outcome.status is PaymentStatus.POSTPAY:
        result = PaymentResult(
            action.txn_id, action.key, LaneOutcome.POSTPAY, reason=outcome.reason
        )
    elif gateway_down:
        result = PaymentResult(action.txn_id, action.key, LaneOutcome.ERROR, reason=outcome.reason)
    else:
        result = PaymentResult(
            action.txn_id, action.key, LaneOutcome.DECLINED, reason=outcome.reason
        )
    return Settled(outcome, result, gateway_down)
