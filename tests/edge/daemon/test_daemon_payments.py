"""Payment troubles at the lane: each passage ends paid, not paid or post-pay, with a record.

The payment client is tested with the payments; here the lane's outcome is: the
transaction record, the barrier, the alarms and the money the gateway keeps.
"""

from __future__ import annotations

from pathlib import Path

from contracts.records.sealed import TransactionRecord
from fleet.testing import FakeLane, exit_lane, held, one_vehicle, only_exit, run
from simulators.gateway.faults import GatewayFaults


def outcome(record: TransactionRecord) -> str:
    """Exactly one of paid, not paid or post-pay, read from the record alone."""
    if "postpay" in record.flags:
        assert record.payment_status == "none"
        return "postpay"
    if record.payment_status == "approved":
        return "paid"
    assert record.payment_status in {"declined", "failed"}
    return "not paid"


async def held_then_gone(lane: FakeLane) -> None:
    await held(lane)
    lane.devices.loops.set(arming=False)
    await lane.settle(lambda: only_exit(lane).status == "voided", "vehicle gone")


class TestDeclines:
    """A declined payment is not paid: the vehicle is held, nothing is kept."""

    def test_declined_every_time(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults(auto_pay_ms=1, decline_rate=1.0))
        run(lane, held_then_gone)
        record = only_exit(lane)
        assert outcome(record) == "not paid"
        assert record.status == "voided"
        assert lane.events("payment_failed")
        assert lane.gateway.kept() == 0
        assert "open" not in lane.devices.barrier.commands
        assert ("Payment declined", "Please try again") in lane.devices.display.shown


class TestTimeouts:
    """A request carried out but never answered is resolved by querying: one charge at most."""

    def test_create_unanswered_but_paid(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults(auto_pay_ms=1, timeout_next=1))
        run(lane, one_vehicle)
        record = only_exit(lane)
        assert outcome(record) == "paid"
        assert len(lane.gateway.orders("paid")) == 1
        assert lane.gateway.kept() == record.fee_total

    def test_no_answer_at_all_holds_the_vehicle(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults(timeout_rate=1.0))
        run(lane, held_then_gone)
        record = only_exit(lane)
        assert outcome(record) == "not paid"
        assert lane.gateway.kept() == 0
        assert lane.events("degraded_mode")[0].detail["mode"] == "gateway_down"


class TestDuplicateCallbacks:
    """The same payment notified twice is one payment."""

    def test_paid_once(self, tmp_path: Path) -> None:
        faults = GatewayFaults(auto_pay_ms=1, duplicate_callbacks=True)
        lane = exit_lane(tmp_path, faults=faults)
        run(lane, one_vehicle)
        record = only_exit(lane)
        assert outcome(record) == "paid"
        callbacks = lane.gateway.sim.state()["callbacks"]
        assert len(callbacks) == 2
        assert lane.gateway.kept() == record.fee_total
        receiver = lane.daemon.payments.receiver
        assert receiver is not None
        assert receiver.counts["duplicate"] == 1


class TestGatewayDown:
    """Gateway unreachable: held for an operator, or post-pay when the policy allows it."""

    def test_held_without_postpay(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        lane.gateway.down = True
        run(lane, held_then_gone)
        record = only_exit(lane)
        assert outcome(record) == "not paid"
        uses = lane.events("degraded_mode")
        assert uses
        assert all(u.detail["mode"] == "gateway_down" for u in uses)
        assert lane.events("payment_failed")

    def test_postpay_lets_the_vehicle_through_to_be_billed(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, postpay="gateway_down")
        lane.gateway.down = True
        run(lane, one_vehicle)
        record = only_exit(lane)
        assert outcome(record) == "postpay"
        assert (record.status, record.authorisation) == ("passed", "rule")
        assert record.fee_total is not None
        assert record.fee_total > 0
        (used,) = lane.events("degraded_mode")
        assert (used.detail["mode"], used.detail["outcome"]) == ("gateway_down", "postpay")
        assert lane.gateway.orders() == []

    def test_fail_open_lets_the_vehicle_through_unpaid(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, policy="fail_open = true")
        lane.gateway.down = True
        run(lane, one_vehicle)
        record = only_exit(lane)
        assert outcome(record) == "not paid"
        assert (record.status, record.authorisation) == ("passed", "fail_open")
        assert "fail_open" in record.flags


class TestLatePayment:
    """A payment that lands after the lane gave up is refunded and recorded."""

    def test_late_payment_is_refunded_and_recorded(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults(), policy="payment_timeout_s = 0.5")

        async def late(lane: FakeLane) -> None:
            await held_then_gone(lane)
            await lane.settle(lambda: lane.gateway.orders("closed") != [], "order closed")
            order_id = lane.gateway.orders()[0]["order_id"]
            lane.gateway.sim.pay(order_id, late=True)
            await lane.settle(lambda: bool(lane.events("late_payment_refunded")), "refund")

        run(lane, late)
        records = lane.latest()
        refund = next(r for r in records if r.references is not None)
        original = next(r for r in records if r.references is None)
        assert refund.references == original.id
        assert refund.fee_total == 0
        assert [i.amount for i in refund.fee_items] == [
            original.fee_total,
            -(original.fee_total or 0),
        ]
        assert refund.payment_status == "refunded"
        assert lane.gateway.kept() == 0
        assert "open" not in lane.devices.barrier.commands
