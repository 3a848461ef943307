"""The lane daemon on fake devices: passages, payments, degraded modes, faults, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from test_daemon_support import (
    PAYMENTS_QR,
    PLATE,
    Devices,
    FakeLane,
    gateway_sim,
    lane_files,
    load,
    seed_entry,
)

from drivers.interfaces import Position
from simulators.gateway import GatewayFaults

Scenario = Callable[[FakeLane], Awaitable[None]]


def run(lane: FakeLane, scenario: Scenario) -> None:
    """Start the lane, play the scenario, stop the lane (whatever happened)."""

    async def main() -> None:
        await lane.daemon.start()
        try:
            await scenario(lane)
        finally:
            await lane.daemon.stop()

    asyncio.run(main())


def exit_lane(
    tmp_path: Path,
    *,
    postpay: str = "never",
    faults: GatewayFaults | None = None,
    policy: str = "",
    extra: str = "",
    devices: Devices | None = None,
    entry: bool = True,
) -> FakeLane:
    gateway = gateway_sim(faults or GatewayFaults(auto_pay_ms=1))
    path = lane_files(
        tmp_path,
        policy=policy,
        extra=PAYMENTS_QR.format(postpay=postpay, gateway="http://gateway.test") + extra,
    )
    if entry:
        seed_entry(tmp_path / "site.db")
    return FakeLane(load(path), gateway=gateway, devices=devices)


async def one_vehicle(lane: FakeLane) -> None:
    await lane.arrive()
    await lane.settle(lambda: lane.devices.barrier.position() is Position.UP, "barrier up")
    await lane.drive_through()
    await lane.settle(lambda: lane.devices.barrier.position() is Position.DOWN, "barrier down")
    await lane.settle(lambda: bool(lane.events("passage_timings")), "timings recorded")


class TestPaidPassage:
    """A vehicle with an open entry pays by QR and is let through, recorded end to end."""

    def test_paid_by_qr_and_passed(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        run(lane, one_vehicle)
        exits = [r for r in lane.latest() if r.kind == "exit"]
        assert len(exits) == 1
        txn = exits[0]
        assert (txn.plate_text, txn.status, txn.payment_status) == (PLATE, "passed", "approved")
        assert txn.authorisation == "paid"
        assert txn.fee_total is not None
        assert txn.fee_total > 0
        assert txn.payment_method == "terminal"
        assert txn.entry_txn_id is not None
        assert len(lane.paid_orders()) == 1
        assert lane.paid_orders()[0]["amount"] == txn.fee_total
        assert lane.devices.barrier.commands == ["open", "close"]
