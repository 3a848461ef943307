"""A payment the lane withdraws (the vehicle backed out): its order closed, nothing else asked.

The lane machine decides (``ClosePayment``); the QR method closes the order, or
makes none when the withdrawal comes first, and the chain tries no other method
and no post-pay for a vehicle that has gone.
"""

from __future__ import annotations

from edge.payments.chain import PaymentChain
from edge.payments.config import Method, PaymentPolicy, PostPay
from edge.payments.outcome import (
    AlarmKind,
    Charged,
    Declined,
    PaymentAlarm,
    PaymentStatus,
    Unavailable,
)
from edge.payments.testing import request
from fleet.testing import InProcessRig

LAST_RESORT = PaymentPolicy(methods=(Method.QR,), postpay=PostPay.LAST_RESORT)


class TestWithdrawn:
    """Cancelled before, during and against a gateway out of reach."""

    def test_cancelled_before_the_order_is_made_makes_none(self) -> None:
        rig = InProcessRig()
        req = request()
        rig.qr.cancel(req.txn_id)
        result = rig.qr.pay(req, window_s=5)
        assert result == Declined(Method.QR, "cancelled before the order was made", cancelled=True)
        assert rig.sim.state()["orders"] == []
        # the cancel was for that one payment: the next one is asked as usual
        assert rig.qr.pay(req, window_s=0.01, on_prompt=lambda p: None) == Declined(
            Method.QR, "not paid within 0.01 s"
        )

    def test_a_withdrawn_payment_gets_no_post_pay(self) -> None:
        rig = InProcessRig()
        chain = PaymentChain(LAST_RESORT, qr=rig.qr, qr_window_s=30)
        req = request()
        outcome = chain.settle(req, on_prompt=lambda p: rig.qr.cancel(p.txn_id))
        assert outcome.status is PaymentStatus.NOT_PAID
        assert outcome.reason == "qr: cancelled"
        assert rig.sim.state()["orders"][0]["status"] == "closed"
        # not withdrawn, the same policy bills the plate
        unpaid = PaymentChain(LAST_RESORT, qr=rig.qr, qr_window_s=0.01).settle(request())
        assert unpaid.status is PaymentStatus.POSTPAY

    def test_paid_before_the_close_is_charged(self) -> None:
        rig = InProcessRig()
        req = request()

        def paid_then_cancelled(prompt: object) -> None:
            rig.control("/_sim/pay", {"order_id": rig.sim.state()["orders"][0]["order_id"]})
            rig.qr.cancel(req.txn_id)

        result = rig.qr.pay(req, window_s=30, on_prompt=paid_then_cancelled)
        assert isinstance(result, Charged)
        assert result.amount == req.amount

    def test_a_close_that_cannot_reach_the_gateway_is_unresolved(self) -> None:
        rig = InProcessRig()
        req = request()

        def gateway_gone(prompt: object) -> None:
            rig.control("/_sim/faults", {"timeout_rate": 1.0})
            rig.qr.cancel(req.txn_id)

        result = rig.qr.pay(req, window_s=30, on_prompt=gateway_gone)
        assert isinstance(result, Unavailable)
        assert result.cancelled
        assert [e.kind for e in rig.events if isinstance(e, PaymentAlarm)] == [
            AlarmKind.ORDER_UNRESOLVED
        ]
        assert rig.qr.unresolved() == [rig.sim.state()["orders"][0]["order_id"]]
