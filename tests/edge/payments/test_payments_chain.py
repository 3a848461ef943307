"""The payment chain: permit, prepaid, QR and post-pay, each case ending in exactly one outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.payments.accounts import InMemoryAccounts, InMemoryPermits, InsufficientBalance
from edge.payments.chain import PaymentChain
from edge.payments.config import Method, PaymentPolicy, PostPay
from edge.payments.ids import debit_key_for
from edge.payments.outcome import PaymentOutcome, PaymentRequest, PaymentStatus
from edge.payments.qr import QrPrompt
from edge.payments.testing import request
from fleet.testing import InProcessRig
from simulators.gateway.faults import GatewayFaults

PLATE = "粤B12345"


@pytest.fixture
def accounts() -> InMemoryAccounts:
    accounts = InMemoryAccounts()
    accounts.open(PLATE, "acct-1", balance=1000)
    return accounts


@pytest.fixture
def permits() -> InMemoryPermits:
    return InMemoryPermits()


def chain(
    accounts: InMemoryAccounts,
    permits: InMemoryPermits,
    rig: InProcessRig | None = None,
    postpay: PostPay = PostPay.NEVER,
) -> PaymentChain:
    return PaymentChain(
        PaymentPolicy(postpay=postpay),
        permits=permits,
        accounts=accounts,
        qr=(rig or InProcessRig()).qr,
        qr_window_s=0,
    )


class TestPermit:
    """A permit admits without a charge, and the record says which permit."""

    def test_permit_valid_now(self, accounts: InMemoryAccounts, permits: InMemoryPermits) -> None:
        permits.grant(
            PLATE, "P-7", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        )
        outcome = chain(accounts, permits).settle(request())
        assert (outcome.status, outcome.method, outcome.amount, outcome.reference) == (
            PaymentStatus.PAID,
            Method.PERMIT,
            0,
            "P-7",
        )
        assert accounts.balance(PLATE) == 1000

    def test_expired_permit_falls_through(
        self, accounts: InMemoryAccounts, permits: InMemoryPermits
    ) -> None:
        permits.grant(
            PLATE, "P-7", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        )
        outcome = chain(accounts, permits).settle(request())
        assert outcome.method is Method.PREPAID

    def test_bad_validity_is_refused(self, permits: InMemoryPermits) -> None:
        day = datetime(2026, 1, 1, tzinfo=UTC)
        with pytest.raises(ValueError, match="valid_until"):
            permits.grant(PLATE, "P-1", day, day)


class TestPrepaid:
    """Prepaid accounts pay when the balance covers the fee, else the next method is tried."""

    def test_sufficient_balance(self, accounts: InMemoryAccounts, permits: InMemoryPermits) -> None:
        req = request(amount=800)
        outcome = chain(accounts, permits).settle(req)
        assert (outcome.status, outcome.method, outcome.amount) == (
            PaymentStatus.PAID,
            Method.PREPAID,
            800,
        )
        assert accounts.balance(PLATE) == 200
        assert outcome.reference == f"acct-1:{debit_key_for(req.txn_id)}"

    def test_retry_debits_once(self, accounts: InMemoryAccounts, permits: InMemoryPermits) -> None:
        req = request(amount=800)
        first = chain(accounts, permits).settle(req)
        assert chain(accounts, permits).settle(req) == first
        assert accounts.balance(PLATE) == 200

    def test_insufficient_balance_falls_through_to_qr(
        self, accounts: InMemoryAccounts, permits: InMemoryPermits
    ) -> None:
        rig = InProcessRig(GatewayFaults())
        req = request(amount=1500)

        def customer_pays(prompt: QrPrompt) -> None:
            rig.control("/_sim/pay", {"order_id": prompt.order_id})

        outcome = chain(accounts, permits, rig).settle(req, customer_pays)
        assert (outcome.status, outcome.method, outcome.amount) == (
            PaymentStatus.PAID,
            Method.QR,
            1500,
        )
        assert [(a.method, a.result) for a in outcome.attempts] == [
            (Method.PERMIT, "declined"),
            (Method.PREPAID, "declined"),
            (Method.QR, "charged"),
        ]
        assert outcome.attempts[1].reason == "balance 1000 < 1500"
        assert accounts.balance(PLATE) == 1000

    def test_in_memory_account_reports_the_balance(self, accounts: InMemoryAccounts) -> None:
        assert accounts.debit(PLATE, 5000, "CNY", "k") == InsufficientBalance("acct-1", 1000)

    def test_negative_opening_balance_is_refused(self, accounts: InMemoryAccounts) -> None:
        with pytest.raises(ValueError, match="balance: must not be negative"):
            accounts.open("X", "a", -1)


class TestEnding:
    """Whatever happens, the chain ends in exactly one of paid, not paid, post-pay."""

    def test_nobody_pays_not_paid(
        self, accounts: InMemoryAccounts, permits: InMemoryPermits
    ) -> None:
        outcome = chain(accounts, permits).settle(request(amount=1500))
        assert outcome.status is PaymentStatus.NOT_PAID
        assert outcome.reason.endswith("qr: not paid within 0 s")

    def test_nobody_pays_postpay_as_last_resort(
        self, accounts: InMemoryAccounts, permits: InMemoryPermits
    ) -> None:
        outcome = chain(accounts, permits, postpay=PostPay.LAST_RESORT).settle(request(amount=1500))
        assert outcome.status is PaymentStatus.POSTPAY
        assert outcome.method is None

    def test_unread_plate_goes_to_qr(
        self, accounts: InMemoryAccounts, permits: InMemoryPermits
    ) -> None:
        outcome = chain(accounts, permits, postpay=PostPay.LAST_RESORT).settle(request(plate=None))
        assert outcome.status is PaymentStatus.NOT_PAID
        assert [a.reason for a in outcome.attempts][:2] == ["plate not read", "plate not read"]
        assert outcome.reason.endswith("post-pay: plate not read")

    def test_zero_fee_is_paid_without_a_method(
        self, accounts: InMemoryAccounts, permits: InMemoryPermits
    ) -> None:
        outcome = chain(accounts, permits).settle(request(amount=0))
        assert (outcome.status, outcome.method, outcome.reason) == (
            PaymentStatus.PAID,
            None,
            "no fee",
        )

    def test_outcome_cannot_mix_states(self) -> None:
        with pytest.raises(ValueError, match="not_paid: no method, amount or reference"):
            PaymentOutcome(PaymentStatus.NOT_PAID, Method.QR, 800, None, None, "x")

    def test_request_refuses_bad_amount_and_naive_time(self) -> None:
        with pytest.raises(ValueError, match="amount: expected a non-negative integer"):
            PaymentRequest("t", None, -1, "CNY", "d", datetime(2026, 1, 1, tzinfo=UTC))
        with pytest.raises(ValueError, match="at: expected an aware datetime"):
            PaymentRequest("t", None, 1, "CNY", "d", datetime(2026, 1, 1))

    def test_method_without_provider_is_refused(self) -> None:
        with pytest.raises(ValueError, match="methods: prepaid, qr configured but not provided"):
            PaymentChain(PaymentPolicy(), permits=InMemoryPermits())
