"""The per-day totals rule both sides apply: settled versions count, refunds only add money."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from contracts.reconcile import contribution, day_totals
from contracts.records.vocab import PaymentStatus, TxnStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Rec:
    recorded_at: datetime
    status: TxnStatus = TxnStatus.PASSED
    payment_status: PaymentStatus = PaymentStatus.APPROVED
    fee_total: int | None = 500
    references: object | None = None
    currency: str | None = "CNY"


AT = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai


class TestContribution:
    """Which versions count and what they add."""

    def test_paid_exit(self) -> None:
        paid = contribution(Rec(AT))
        assert (paid.transactions, paid.revenue) == (1, 500)

    def test_not_final_or_still_requested_adds_nothing(self) -> None:
        assert contribution(Rec(AT, status=TxnStatus.AUTHORISED)).transactions == 0
        assert contribution(Rec(AT, payment_status=PaymentStatus.REQUESTED)).transactions == 0

    def test_unpaid_final_counts_without_money(self) -> None:
        voided = contribution(Rec(AT, status=TxnStatus.VOIDED, payment_status=PaymentStatus.NONE))
        assert (voided.transactions, voided.revenue) == (1, 0)

    def test_values_as_records_hold_them(self) -> None:
        as_stored = Rec(AT, status="passed", payment_status="approved")  # type: ignore[arg-type]
        paid = contribution(as_stored)
        assert (paid.transactions, paid.revenue) == (1, 500)

    def test_refund_adds_money_not_a_transaction(self) -> None:
        refund = contribution(Rec(AT, fee_total=-200, references="orig"))
        assert (refund.transactions, refund.revenue) == (0, -200)


class TestDays:
    """Totals fall on the plaza-local day."""

    def test_plaza_local_day(self) -> None:
        late = Rec(AT)  # 23:30 local on the 4th
        next_day = replace(late, recorded_at=datetime(2026, 12, 4, 16, 30, tzinfo=UTC))
        totals = day_totals([late, next_day, replace(late, fee_total=100)], SHANGHAI)
        assert [(t.day, t.transactions, t.revenue) for t in totals] == [
            (date(2026, 12, 4), 2, 600),
            (date(2026, 12, 5), 1, 500),
        ]
        assert totals[0].currency == "CNY"

    def test_a_day_with_nothing_counted_is_left_out(self) -> None:
        zero_refund = Rec(AT, fee_total=0, references="orig")
        unfinished = Rec(AT, status=TxnStatus.AUTHORISED)
        assert day_totals([zero_refund, unfinished], SHANGHAI) == []
