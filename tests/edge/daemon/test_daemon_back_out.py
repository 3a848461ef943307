"""A vehicle backing out with its QR order open, at a daemon against the gateway simulator.

The lane closes the order as the vehicle backs out (long before the order's
window would end), so the vehicle that comes back pays once; money that lands
anyway (paid just before the close, or while the close could not reach the
gateway) is refunded and recorded against the passage, also across a restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from contracts.gateway.transport import HttpRequest
from contracts.records.sealed import TransactionRecord
from drivers.interfaces import Position
from edge.config.lane import load_lane
from edge.daemon.testing import image_of
from fleet.testing import FakeLane, barrier_is, exit_lane, run
from simulators.gateway.faults import GatewayFaults

CLOSE_S = 5.0
"""Well inside the order's window (0.8 x the 90 s payment timeout): the close is the back-out's."""


async def order_open(lane: FakeLane, count: int = 1) -> dict[str, Any]:
    """The vehicle's order, once the lane has made it (the ``count``-th of the lane)."""
    await lane.settle(lambda: len(lane.gateway.orders()) == count, f"order {count} made")
    order = lane.gateway.orders()[count - 1]
    assert order["status"] == "pending"
    return order


async def backs_out(lane: FakeLane) -> None:
    lane.devices.camera.show(image_of(0))
    lane.devices.loops.set(arming=False)
    await lane.settle(lambda: voided(lane) is not None, "passage voided")


def voided(lane: FakeLane) -> TransactionRecord | None:
    return next((r for r in lane.latest() if r.status == "voided" and not r.references), None)


def refunds(lane: FakeLane) -> list[TransactionRecord]:
    return [r for r in lane.latest() if r.references is not None]


class TestClosedOnBackingOut:
    """The order is closed when the vehicle backs out; the returning vehicle pays once."""

    def test_the_returning_vehicle_pays_once(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())

        async def scenario(lane: FakeLane) -> None:
            await lane.arrive()
            first = await order_open(lane)
            await backs_out(lane)
            closed = lambda: lane.gateway.orders("closed") != []  # noqa: E731
            await lane.settle(closed, "order closed", timeout_s=CLOSE_S)
            await lane.settle(
                lambda: getattr(voided(lane), "payment_status", None) == "declined",
                "the close recorded",
            )
            await lane.arrive()
            second = await order_open(lane, 2)
            with pytest.raises(ValueError, match="closed, cannot be paid"):
                lane.gateway.sim.pay(first["order_id"])
            lane.gateway.sim.pay(second["order_id"])
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            await lane.settle(lambda: any(r.status == "passed" for r in lane.latest()), "passed")

        run(lane, scenario)
        passed = next(r for r in lane.latest() if r.status == "passed")
        assert lane.gateway.kept() == passed.fee_total
        assert [o["status"] for o in lane.gateway.orders()] == ["closed", "paid"]
        assert not lane.events("late_payment")
        assert refunds(lane) == []


class TestPaidAnyway:
    """Money that lands for the closed order is given back and recorded against the passage."""

    def test_paid_just_before_the_close_is_refunded(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())

        async def scenario(lane: FakeLane) -> None:
            await lane.arrive()
            order = await order_open(lane)

            def customer_pays_first(request: HttpRequest) -> None:
                if request.path.endswith("/close") and lane.gateway.before is not None:
                    lane.gateway.before = None
                    lane.gateway.sim.pay(order["order_id"])

            lane.gateway.before = customer_pays_first
            await backs_out(lane)
            await lane.settle(lambda: refunds(lane) != [], "refund recorded", timeout_s=CLOSE_S)

        run(lane, scenario)
        record = voided(lane)
        assert record is not None
        assert (record.payment_status, set(record.flags) >= {"late_payment", "refund_due"}) == (
            "approved",
            True,
        )
        (refund,) = refunds(lane)
        assert (refund.references, refund.payment_status) == (record.id, "refunded")
        assert [i.amount for i in refund.fee_items] == [record.fee_total, -(record.fee_total or 0)]
        assert lane.gateway.kept() == 0
        assert len(lane.gateway.sim.state()["refunds"]) == 1
        assert lane.events("late_payment")
        assert "open" not in lane.devices.barrier.commands

    def test_paid_while_the_close_could_not_reach_the_gateway(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())

        async def scenario(lane: FakeLane) -> None:
            await lane.arrive()
            order = await order_open(lane)
            lane.gateway.down = True
            await backs_out(lane)
            unresolved = lambda: bool(lane.events("order_unresolved"))  # noqa: E731
            await lane.settle(unresolved, "close failed", timeout_s=CLOSE_S)
            record = voided(lane)
            assert record is not None
            assert record.payment_status == "requested"  # a start would close it
            lane.gateway.down = False
            lane.gateway.sim.pay(order["order_id"])  # the order was still open
            await lane.settle(lambda: refunds(lane) != [], "refund recorded", timeout_s=CLOSE_S)

        run(lane, scenario)
        record = voided(lane)
        assert record is not None
        (refund,) = refunds(lane)
        assert refund.references == record.id
        assert lane.gateway.kept() == 0
        assert "open" not in lane.devices.barrier.commands

    def test_a_restart_closes_the_order_and_refunds_what_was_paid(self, tmp_path: Path) -> None:
        """Down at the back-out and at the stop: the next start closes it, finds it paid."""
        lane = exit_lane(tmp_path, faults=GatewayFaults())
        gateway = lane.gateway

        async def scenario(lane: FakeLane) -> None:
            await lane.arrive()
            order = await order_open(lane)
            gateway.down = True
            await backs_out(lane)
            unresolved = lambda: bool(lane.events("order_unresolved"))  # noqa: E731
            await lane.settle(unresolved, "close failed", timeout_s=CLOSE_S)
            await lane.daemon.stop()  # still down: the stop cannot resolve it either
            gateway.receiver = None  # no lane to tell
            gateway.down = False
            gateway.sim.pay(order["order_id"])

        asyncio.run(_started(lane, scenario))
        (stopped,) = [r for r in lane.latest() if r.status == "voided"]
        assert "payment_unresolved" in stopped.flags
        assert gateway.kept() == stopped.fee_total  # paid, not yet given back

        again = FakeLane(load_lane(lane.files.path), gateway=gateway, devices=lane.devices)
        run(again, lambda lane: lane.settle(lambda: refunds(lane) != [], "refund recorded"))
        record = voided(again)
        assert record is not None
        assert record.payment_status == "approved"
        assert "refund_due" in record.flags
        assert "payment_unresolved" not in record.flags
        (refund,) = refunds(again)
        assert refund.references == record.id
        assert gateway.kept() == 0


async def _started(lane: FakeLane, scenario: Any) -> None:
    """Start the lane and play a scenario that stops it itself."""
    await lane.start()
    await scenario(lane)


class TestUnheardBackOff:
    """A paid vehicle the last run recorded passed unseen (it had backed off) comes back: once."""

    def test_the_return_keeps_its_entry_and_pays_nothing_more(self, tmp_path: Path) -> None:
        from datetime import UTC, datetime, timedelta

        from contracts.records.transaction import FeeItem, Transaction
        from edge.daemon.testing import PLATE
        from edge.store import Store

        lane = exit_lane(tmp_path)  # seeds the plate's entry
        at = datetime.now(UTC) - timedelta(minutes=1)
        with Store.open(lane.files.lane.store) as store, store.batch():
            entry = store.entries.close(PLATE)
            assert entry is not None
            assumed = store.append_transaction(
                Transaction.build(
                    lane_id=lane.files.lane.id,
                    kind="exit",
                    status="passed",
                    authorisation="paid",
                    recorded_at=at,
                    plate_text=PLATE,
                    vehicle_class=1,
                    entry_time=entry.entry_time,
                    exit_time=at - timedelta(seconds=20),
                    entry_plaza=lane.files.plaza.id,
                    entry_txn_id=entry.txn_id,
                    currency="CNY",
                    fee_items=(FeeItem(label="parking", amount=100_000),),
                    fee_total=100_000,  # more than any fee since: nothing left to pay
                    payment_method="terminal",
                    payment_status="approved",
                    flags=("interrupted", "passage_assumed"),
                )
            )

        async def scenario(lane: FakeLane) -> None:
            await lane.arrive()
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            passed = lambda: any(  # noqa: E731
                r.status == "passed" and r.id != assumed.id for r in lane.latest()
            )
            await lane.settle(passed, "passed")

        run(lane, scenario)
        (passed,) = [r for r in lane.latest() if r.status == "passed" and r.id != assumed.id]
        assert passed.entry_txn_id == entry.txn_id
        assert passed.fee_total == 0
        assert "passage_corrected" in passed.flags
        assert lane.gateway.orders() == []
        (event,) = lane.events("passage_corrected")
        assert event.txn_id == assumed.id
