"""The lane's QR payments against the gateway simulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.gateway.transport import HttpTransport
from edge.payments.chain import PaymentChain
from edge.payments.config import Method, PaymentPolicy, PostPay
from edge.payments.gateway import GatewayClient, GatewayDownError, GatewayRefusedError
from edge.payments.ids import order_id_for, refund_id_for
from edge.payments.outcome import (
    AlarmKind,
    Charged,
    Declined,
    LatePaymentRefunded,
    PaymentAlarm,
    PaymentStatus,
    Unavailable,
)
from edge.payments.qr import QrPayments, QrPrompt
from edge.payments.testing import FAST_RETRY, MERCHANT, SECRET, lane_client, request
from fleet.testing import Rig, real_rig
from plumbing.testing import free_port, wait_until
from simulators.gateway.faults import GatewayFaults

QR_ONLY = PaymentPolicy(methods=(Method.QR,))


def alarms(rig: Rig) -> list[AlarmKind]:
    return [e.kind for e in rig.events if isinstance(e, PaymentAlarm)]


def kept(rig: Rig, order_id: str) -> int:
    return rig.sim.kept(order_id)


class TestPaid:
    """A customer who pays ends paid, once, whether the callback or a query tells the lane."""

    def test_paid_by_callback(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10), query_schedule_s=(5.0,)) as rig:
            prompts: list[QrPrompt] = []
            chain = PaymentChain(QR_ONLY, qr=rig.qr, qr_window_s=5)
            req = request()
            outcome = chain.settle(req, prompts.append)
            assert outcome.status is PaymentStatus.PAID
            assert outcome.method is Method.QR
            assert outcome.order_id == order_id_for(req.txn_id)
            assert (outcome.reference or "").startswith("SIM")
            assert [p.order_id for p in prompts] == [outcome.order_id]
            assert rig.receiver.counts["accepted"] == 1
            assert kept(rig, outcome.order_id) == 800

    def test_paid_found_by_query_without_callbacks(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10), callbacks=False) as rig:
            result = rig.qr.pay(request(), window_s=5)
            assert isinstance(result, Charged)
            assert rig.receiver.counts == {}

    def test_retry_of_a_paid_transaction_does_not_charge_again(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10)) as rig:
            req = request()
            first = rig.qr.pay(req, window_s=5)
            again = rig.qr.pay(req, window_s=5)
            assert first == again
            assert isinstance(first, Charged)
            assert len(rig.sim.state()["orders"]) == 1
            assert kept(rig, first.order_id or "") == 800


class TestNotPaid:
    """Declines and customers who never pay end not paid, and their orders closed."""

    def test_declined(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10, decline_rate=1.0)) as rig:
            outcome = PaymentChain(QR_ONLY, qr=rig.qr, qr_window_s=5).settle(request())
            assert outcome.status is PaymentStatus.NOT_PAID
            assert "declined" in outcome.reason
            assert [a.result for a in outcome.attempts] == ["declined"]

    def test_unpaid_order_is_closed_after_the_window(self) -> None:
        with real_rig() as rig:
            req = request()
            result = rig.qr.pay(req, window_s=0.1)
            assert result == Declined(Method.QR, "not paid within 0.1 s")
            (order,) = rig.sim.state()["orders"]
            assert order["status"] == "closed"

    def test_cancel_closes_the_order(self) -> None:
        with real_rig() as rig:
            req = request()
            result = rig.qr.pay(req, window_s=30, on_prompt=lambda p: rig.qr.cancel(p.txn_id))
            assert result == Declined(Method.QR, "cancelled", cancelled=True)
            assert rig.sim.state()["orders"][0]["status"] == "closed"


class TestTimeouts:
    """A request that gets no answer is resolved by querying the order, never by charging twice."""

    def test_create_timeout_resolved_by_query(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=20, timeout_next=1)) as rig:
            result = rig.qr.pay(request(), window_s=5)
            assert isinstance(result, Charged)
            assert len(rig.sim.state()["orders"]) == 1

    def test_query_timeouts_are_retried_then_given_up_on(self) -> None:
        with real_rig() as rig:
            rig.client.create_order("LWQ", 100, "CNY", "query me")
            rig.control.post("/_sim/faults", {"timeout_rate": 1.0})
            with pytest.raises(GatewayDownError, match="after 2 tries") as caught:
                rig.client.query_order("LWQ")
            assert caught.value.maybe_done

    def test_close_timeout_leaves_order_unresolved_until_sweep(self) -> None:
        with real_rig() as rig:
            req = request()
            rig.control.post("/_sim/faults", {"timeout_rate": 0.0})

            def break_gateway(_: QrPrompt) -> None:
                rig.control.post("/_sim/faults", {"timeout_rate": 1.0})

            result = rig.qr.pay(req, window_s=0.05, on_prompt=break_gateway)
            assert isinstance(result, Unavailable)
            assert rig.qr.unresolved() == [order_id_for(req.txn_id)]
            assert AlarmKind.ORDER_UNRESOLVED in alarms(rig)
            rig.control.post("/_sim/faults", {"timeout_rate": 0.0})
            rig.qr.sweep()
            assert rig.qr.unresolved() == []
            assert rig.sim.state()["orders"][0]["status"] == "closed"


class TestGatewayDown:
    """Connection refused: the QR method is unavailable and the lane's policy decides."""

    @pytest.fixture
    def down_qr(self) -> QrPayments:
        transport = HttpTransport(f"http://127.0.0.1:{free_port()}", 0.5, 0.5)
        client = GatewayClient(transport, merchant_id=MERCHANT, secret=SECRET, retry=FAST_RETRY)
        return QrPayments(client, query_schedule_s=(0.05,), events=lambda _: None)

    @pytest.mark.parametrize(
        ("postpay", "plate", "status"),
        [
            (PostPay.GATEWAY_DOWN, "粤B12345", PaymentStatus.POSTPAY),
            (PostPay.LAST_RESORT, "粤B12345", PaymentStatus.POSTPAY),
            (PostPay.NEVER, "粤B12345", PaymentStatus.NOT_PAID),
            (PostPay.GATEWAY_DOWN, None, PaymentStatus.NOT_PAID),
        ],
    )
    def test_falls_through_per_policy(
        self, down_qr: QrPayments, postpay: PostPay, plate: str | None, status: PaymentStatus
    ) -> None:
        chain = PaymentChain(PaymentPolicy(methods=(Method.QR,), postpay=postpay), qr=down_qr)
        outcome = chain.settle(request(plate=plate))
        assert outcome.status is status
        assert outcome.attempts[0].result == "unavailable"
        assert "refused" in outcome.attempts[0].reason.lower()
        assert down_qr.unresolved() == []  # nothing reached the gateway: nothing to close

    def test_down_error_says_nothing_was_done(self, down_qr: QrPayments) -> None:
        with pytest.raises(GatewayDownError) as caught:
            down_qr.client.query_order("LWX")
        assert not caught.value.maybe_done


class TestCallbacks:
    """Duplicate callbacks charge once; forged, wrong-amount, stale and replayed ones are refused."""

    def test_duplicate_callbacks_charge_once(self) -> None:
        faults = GatewayFaults(auto_pay_ms=10, duplicate_callbacks=True)
        with real_rig(faults, query_schedule_s=(5.0,)) as rig:
            result = rig.qr.pay(request(), window_s=5)
            assert isinstance(result, Charged)
            wait_until(lambda: len(rig.sim.state()["callbacks"]) == 2, "two callbacks")
            assert rig.receiver.counts == {"accepted": 1, "duplicate": 1}
            assert [c["answer"] for c in rig.sim.state()["callbacks"]] == [200, 200]
            assert kept(rig, result.order_id or "") == 800
            assert rig.sim.state()["refunds"] == []

    def test_payment_after_close_is_refunded(self) -> None:
        with real_rig() as rig:
            req = request()
            order_id = order_id_for(req.txn_id)
            assert isinstance(rig.qr.pay(req, window_s=0.05), Declined)
            rig.control.post("/_sim/pay", {"order_id": order_id, "late": True})
            # The receiver answers the callback once it has refunded and told the lane.
            wait_until(lambda: bool(rig.sim.state()["callbacks"]), "the callback answered")
            (refund,) = rig.sim.state()["refunds"]
            assert refund["refund_id"] == refund_id_for(order_id, req.txn_id)
            assert refund["amount"] == 800
            assert kept(rig, order_id) == 0
            late = [e for e in rig.events if isinstance(e, LatePaymentRefunded)]
            assert [(e.txn_id, e.amount) for e in late] == [(req.txn_id, 800)]
            assert rig.receiver.counts == {"late_refunded": 1}

    def test_late_duplicates_refund_once(self) -> None:
        faults = GatewayFaults(duplicate_callbacks=True, late_callback_s=0.05)
        with real_rig(faults) as rig:
            req = request()
            rig.qr.pay(req, window_s=0.05)
            order_id = order_id_for(req.txn_id)
            rig.control.post("/_sim/pay", {"order_id": order_id, "late": True})
            wait_until(lambda: len(rig.sim.state()["callbacks"]) == 2, "two callbacks")
            assert len(rig.sim.state()["refunds"]) == 1
            assert sum(isinstance(e, LatePaymentRefunded) for e in rig.events) == 1
            assert kept(rig, order_id) == 0

    def _while_open(self, rig: Rig, action: Callable[[str], None]) -> Declined | Charged:
        """Run ``action(order_id)`` while the lane waits for the payment; the customer never pays."""
        result = rig.qr.pay(request(), window_s=0.1, on_prompt=lambda p: action(p.order_id))
        assert isinstance(result, Declined | Charged)
        return result

    def test_forged_paid_callback_is_refused_counted_and_raised(self) -> None:
        with real_rig() as rig:

            def forge(order_id: str) -> None:
                answer = rig.control.post(
                    "/_sim/callback", {"order_id": order_id, "status": "paid", "forge": True}
                )
                assert answer == {"answer": 401}

            assert isinstance(self._while_open(rig, forge), Declined)
            assert rig.receiver.counts == {"bad_signature": 1}
            assert alarms(rig) == [AlarmKind.BAD_SIGNATURE]

    def test_forged_rate_sends_a_forgery_beside_the_real_callback(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10, forge_rate=1.0)) as rig:
            assert isinstance(rig.qr.pay(request(), window_s=5), Charged)
            wait_until(lambda: len(rig.sim.state()["callbacks"]) == 2, "two callbacks")
            assert sorted(c["answer"] for c in rig.sim.state()["callbacks"]) == [200, 401]
            assert rig.receiver.counts["bad_signature"] == 1

    def test_wrong_amount_is_refused_counted_and_raised(self) -> None:
        with real_rig() as rig:

            def wrong(order_id: str) -> None:
                answer = rig.control.post(
                    "/_sim/callback", {"order_id": order_id, "status": "paid", "amount": 1}
                )
                assert answer == {"answer": 400}

            assert isinstance(self._while_open(rig, wrong), Declined)
            assert rig.receiver.counts == {"wrong_amount": 1}
            assert alarms(rig) == [AlarmKind.WRONG_AMOUNT]

    def test_replayed_callback_is_refused(self) -> None:
        with real_rig() as rig:
            answers: list[object] = []

            def twice(order_id: str) -> None:
                body = {"order_id": order_id, "status": "declined", "nonce": "n-1", "event_id": "e"}
                answers.append(rig.control.post("/_sim/callback", body))
                answers.append(rig.control.post("/_sim/callback", body))

            assert self._while_open(rig, twice) == Declined(Method.QR, "declined by the gateway")
            assert answers == [{"answer": 200}, {"answer": 401}]
            assert rig.receiver.counts == {"accepted": 1, "replayed": 1}
            assert alarms(rig) == [AlarmKind.REPLAYED]

    def test_stale_callback_is_refused(self) -> None:
        with real_rig() as rig:

            def stale(order_id: str) -> None:
                body = {"order_id": order_id, "status": "paid", "timestamp_offset_s": -3600}
                assert rig.control.post("/_sim/callback", body) == {"answer": 401}

            assert isinstance(self._while_open(rig, stale), Declined)
            assert rig.receiver.counts == {"stale": 1}

    def test_callback_for_unknown_order_is_refused(self) -> None:
        with real_rig() as rig:
            other = lane_client(rig.server.url)
            other.create_order("LWOTHER", 100, "CNY", "not ours", rig.receiver.url)
            assert rig.control.post("/_sim/callback", {"order_id": "LWOTHER"}) == {"answer": 404}
            assert alarms(rig) == [AlarmKind.UNKNOWN_ORDER]


class TestRefunds:
    """Corrections refund once per correction id; a wrong secret is refused, not retried."""

    def test_correction_refund_is_idempotent(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10)) as rig:
            req = request()
            paid = rig.qr.pay(req, window_s=5)
            assert isinstance(paid, Charged)
            correction = "0190f7a4-0000-7000-8000-000000000001"
            first = rig.qr.refund(req.txn_id, correction, 300, "overcharged")
            again = rig.qr.refund(req.txn_id, correction, 300, "overcharged")
            assert first == again
            assert kept(rig, paid.order_id or "") == 500

    def test_refund_beyond_what_was_paid_is_refused(self) -> None:
        with real_rig(GatewayFaults(auto_pay_ms=10)) as rig:
            req = request()
            rig.qr.pay(req, window_s=5)
            cause = "0190f7a4-0000-7000-8000-000000000002"
            with pytest.raises(GatewayRefusedError, match=r"HTTP 409: amount: 900 exceeds the 800"):
                rig.qr.refund(req.txn_id, cause, 900, "too much")

    def test_wrong_secret_is_refused_with_a_reason(self) -> None:
        with real_rig() as rig:
            client = GatewayClient(
                HttpTransport(rig.server.url, 0.5, 0.5),
                merchant_id=MERCHANT,
                secret=b"wrong",
                retry=FAST_RETRY,
            )
            with pytest.raises(GatewayRefusedError, match="HTTP 401: signature: bad_signature"):
                client.query_order("LWX")


class TestRecovery:
    """An order left open by a restart is resolved: paid if the customer paid, else closed."""

    def test_resolve_paid_order(self) -> None:
        with real_rig() as rig:
            req = request()
            order_id = order_id_for(req.txn_id)
            rig.client.create_order(order_id, 800, "CNY", "before the crash")
            rig.control.post("/_sim/pay", {"order_id": order_id})
            assert isinstance(rig.qr.resolve(req.txn_id, 800, "CNY"), Charged)

    def test_resolve_unknown_order(self) -> None:
        with real_rig() as rig:
            result = rig.qr.resolve(request().txn_id, 800, "CNY")
            assert isinstance(result, Declined)
            assert "no such order" in result.reason
