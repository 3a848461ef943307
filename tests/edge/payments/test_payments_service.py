"""Payments wired from configuration, against the simulator on loopback."""

from __future__ import annotations

import pytest

from edge.payments.accounts import InMemoryAccounts
from edge.payments.config import GatewayConfig, Method, PaymentPolicy
from edge.payments.outcome import PaymentEvent, PaymentStatus
from edge.payments.service import Payments
from edge.payments.testing import MERCHANT, SECRET, request
from simulators.gateway.faults import GatewayFaults
from simulators.gateway.server import GatewayServer


class TestPaymentsFromConfig:
    """The daemon's entry point builds, starts and stops the whole payment side."""

    def test_paid_end_to_end(self) -> None:
        server = GatewayServer(
            secret=SECRET, merchant_id=MERCHANT, faults=GatewayFaults(auto_pay_ms=5)
        )
        server.start()
        events: list[PaymentEvent] = []
        gateway = GatewayConfig.model_validate(
            {
                "base_url": server.url,
                "merchant_id": MERCHANT,
                "secret_env": "LW_SECRET",
                "read_timeout_s": 1,
                "query_schedule_s": [5],
                "callback": {"host": "127.0.0.1", "port": 0, "path": "/notify"},
            }
        )
        payments = Payments.build(
            PaymentPolicy(methods=(Method.QR,)),
            gateway,
            events=events.append,
            environ={"LW_SECRET": SECRET.decode()},
            qr_window_s=5,
        )
        payments.start()
        try:
            assert payments.receiver is not None
            server.sim.callback_url = payments.receiver.url
            outcome = payments.chain.settle(request())
            payments.sweep()
        finally:
            payments.stop()
            server.stop()
        assert outcome.status is PaymentStatus.PAID
        assert payments.receiver.counts == {"accepted": 1}
        assert events == []

    def test_qr_without_gateway_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"payments\.gateway: required when"):
            Payments.build(PaymentPolicy(), None, events=lambda _: None, environ={})

    def test_lane_without_gateway(self) -> None:
        accounts = InMemoryAccounts()
        accounts.open("粤B12345", "a-1", 1000)
        payments = Payments.build(
            PaymentPolicy(methods=(Method.PREPAID,)),
            None,
            events=lambda _: None,
            environ={},
            accounts=accounts,
        )
        payments.start()
        outcome = payments.chain.settle(request())
        payments.sweep()
        payments.stop()
        assert (outcome.status, outcome.method) == (PaymentStatus.PAID, Method.PREPAID)
        assert payments.qr is None
