"""The payment chain of an unattended lane: permit, prepaid account, QR, post-pay.

Methods are tried in the order the lane's policy gives; one that does not
settle the fee falls through to the next. Post-pay (bill by plate) closes the
chain where the policy allows it. The result is always exactly one outcome.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.payments.accounts import Debited, InsufficientBalance, Permits, PrepaidAccounts
from edge.payments.config import Method, PaymentPolicy, PostPay
from edge.payments.ids import debit_key_for
from edge.payments.outcome import (
    Attempt,
    Charged,
    Declined,
    MethodResult,
    PaymentOutcome,
    PaymentRequest,
    PaymentStatus,
    Unavailable,
)
from edge.payments.qr import QrPayments, QrPrompt
from plumbing import log

logger = log.get(__name__)


class PaymentChain:
    """Settles one passage's fee; ``qr_window_s`` is how long a customer has to pay by QR."""

    def __init__(
        self,
        policy: PaymentPolicy,
        *,
        permits: Permits | None = None,
        accounts: PrepaidAccounts | None = None,
        qr: QrPayments | None = None,
        qr_window_s: float = 90.0,
    ) -> None:
        self._methods: dict[Method, _Method] = {}
        if permits is not None:
            self._methods[Method.PERMIT] = lambda request, _: _by_permit(permits, request)
        if accounts is not None:
            self._methods[Method.PREPAID] = lambda request, _: _by_account(accounts, request)
        if qr is not None:
            self._methods[Method.QR] = lambda request, prompt: qr.pay(request, qr_window_s, prompt)
        missing = [m.value for m in policy.methods if m not in self._methods]
        if missing:
            raise ValueError(f"methods: {', '.join(missing)} configured but not provided")
        self.policy = policy

    def settle(
        self, request: PaymentRequest, on_prompt: Callable[[QrPrompt], None] | None = None
    ) -> PaymentOutcome:
        if request.amount == 0:
            return PaymentOutcome(PaymentStatus.PAID, None, 0, None, None, "no fee")
        attempts: list[Attempt] = []
        gateway_down = False
        for method in self.policy.methods:
            result = self._methods[method](request, on_prompt)
            attempts.append(Attempt.of(result))
            logger.info(
                "payment_attempt", txn_id=request.txn_id, method=method.value, result=attempts[-1]
            )
            if isinstance(result, Charged):
                return PaymentOutcome(
                    PaymentStatus.PAID,
                    result.method,
                    result.amount,
                    result.reference,
                    result.order_id,
                    f"{method.value} charged",
                    tuple(attempts),
                )
            gateway_down = gateway_down or (
                isinstance(result, Unavailable) and result.method is Method.QR
            )
            if result.cancelled:  # the vehicle left: nothing else is asked of it
                why = f"{method.value}: {result.reason}"
                return PaymentOutcome(
                    PaymentStatus.NOT_PAID, None, 0, None, None, why, tuple(attempts)
                )
        why = "; ".join(f"{a.method.value}: {a.reason}" for a in attempts)
        postpay = self.policy.postpay is PostPay.LAST_RESORT or (
            self.policy.postpay is PostPay.GATEWAY_DOWN and gateway_down
        )
        if postpay and request.plate:
            reason = "gateway down" if gateway_down else "no method settled the fee"
            return PaymentOutcome(
                PaymentStatus.POSTPAY, None, 0, None, None, f"{reason} ({why})", tuple(attempts)
            )
        if postpay:
            why += "; post-pay: plate not read"
        return PaymentOutcome(PaymentStatus.NOT_PAID, None, 0, None, None, why, tuple(attempts))


_Method = Callable[[PaymentRequest, Callable[[QrPrompt], None] | None], MethodResult]


def _by_permit(permits: Permits, request: PaymentRequest) -> MethodResult:
    if request.plate is None:
        return Declined(Method.PERMIT, "plate not read")
    permit = permits.find(request.plate, request.at)
    if permit is None:
        return Declined(Method.PERMIT, f"no permit for {request.plate}")
    return Charged(Method.PERMIT, 0, permit)


def _by_account(accounts: PrepaidAccounts, request: PaymentRequest) -> MethodResult:
    if request.plate is None:
        return Declined(Method.PREPAID, "plate not read")
    debit = accounts.debit(
        request.plate, request.amount, request.currency, debit_key_for(request.txn_id)
    )
    if isinstance(debit, Debited):
        return Charged(Method.PREPAID, debit.amount, debit.reference)
    if isinstance(debit, InsufficientBalance):
        return Declined(Method.PREPAID, f"balance {debit.balance} < {request.amount}")
    return Declined(Method.PREPAID, f"no prepaid account for {request.plate}")
