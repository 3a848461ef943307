"""The lane daemon on fake devices: passages, lookups, degraded modes, faults, shutdown."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.records.lane_event import LaneEvent
from contracts.records.sealed import TransactionRecord
from contracts.records.transaction import Transaction
from contracts.uuid7 import uuid7
from drivers.fakes import FakeDisplay, FakeLoops
from drivers.interfaces import EventSink, Frame, Position
from edge.config.lane import load_lane
from edge.daemon.testing import (
    FAST,
    PAYMENTS_QR,
    PLATE,
    REPO,
    BookRecognition,
    Devices,
    image_of,
    lane_files,
    seed_entry,
    sure_read,
)
from edge.fees.engine import quote
from edge.fees.files import load_tariff
from edge.fees.passage import FeeQuery
from edge.payments.testing import SECRET
from edge.store import ListEntry, Store, StoreFullError, verify
from fleet.testing import (
    FakeLane,
    barrier_is,
    denied,
    exit_lane,
    held,
    one_vehicle,
    only_exit,
    run,
    seed_pending_payment,
)
from plumbing.testing import wait_until
from simulators.gateway.faults import GatewayFaults


class UnreachableLoops(FakeLoops):
    """Loops on an I/O module that cannot be reached: the fault comes right after start."""

    def start(self, sink: EventSink) -> None:
        super().start(sink)
        self.fault("cannot connect to tcp 127.0.0.1:5020")


def expected_fee(record: TransactionRecord, payment_method: str | None = None) -> int:
    """The Riverside tariff's fee for the record's entry and exit times."""
    assert record.exit_time is not None
    tariff = load_tariff(REPO / "config/tariffs/riverside-parking.toml")
    passage = FeeQuery(
        exit=record.exit_time, entry=record.entry_time, payment_method=payment_method
    )
    return quote(tariff, passage).total


class TestPaidPassage:
    """A vehicle with an open entry pays by QR and is let through, recorded end to end."""

    def test_paid_by_qr_and_passed(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        run(lane, one_vehicle)
        txn = [r for r in lane.latest() if r.kind == "exit"]
        assert len(txn) == 1
        exit_ = txn[0]
        assert (exit_.plate_text, exit_.status, exit_.payment_status) == (
            PLATE,
            "passed",
            "approved",
        )
        assert exit_.authorisation == "paid"
        assert exit_.payment_method == "terminal"
        assert exit_.fee_total == expected_fee(exit_)
        assert exit_.fee_total > 0
        assert exit_.entry_txn_id is not None
        assert "unmatched_exit" not in exit_.flags
        paid = lane.gateway.orders("paid")
        assert [o["amount"] for o in paid] == [exit_.fee_total]
        assert lane.devices.barrier.commands == ["open", "close"]
        assert lane.devices.display.shown[-1] == ("Thank you", "Please proceed")

    def test_exit_closes_the_open_entry(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        run(lane, one_vehicle)
        with Store.open(tmp_path / "site.db") as store:
            assert store.entries.find(PLATE) is None

    def test_timings_are_recorded_in_order(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        run(lane, one_vehicle)
        (timings,) = lane.events("passage_timings")
        marks = timings.detail
        assert set(marks) == {
            "plate_read_ms",
            "decision_ms",
            "barrier_command_ms",
            "barrier_up_ms",
            "vehicle_gone_ms",
        }
        order = ["plate_read_ms", "decision_ms", "barrier_command_ms", "barrier_up_ms"]
        values = [marks[k] for k in order]
        assert values == sorted(values)
        assert marks["vehicle_gone_ms"] >= marks["barrier_up_ms"]

    def test_chain_verifies_after_passages(self, tmp_path: Path) -> None:
        from edge.store import verify

        lane = exit_lane(tmp_path)
        run(lane, one_vehicle)
        report = verify(tmp_path / "site.db")
        assert report.ok, report


class TestFirstLook:
    """The frame taken while the loop was debounced is read without waiting for a new one."""

    def test_frame_from_the_debounce_window_opens_without_a_trigger(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        triggers: list[int] = []
        camera = lane.devices.camera
        trigger = camera.trigger

        def counted(count: int) -> Sequence[Frame]:
            triggers.append(count)
            return trigger(count)

        camera.trigger = counted  # type: ignore[method-assign]
        lane.devices.loops.debounce_s = 0.1
        run(lane, one_vehicle)
        (record,) = [r for r in lane.latest() if r.kind == "exit"]
        assert (record.plate_text, record.status) == ("皖A12345", "passed")
        assert triggers == []

    def test_frame_older_than_the_loop_is_not_read(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        lane.plates[2] = "皖B22222"
        lane.devices.loops.debounce_s = 0.02

        async def stale_frame(lane: FakeLane) -> None:
            lane.devices.camera.show(image_of(2))  # the vehicle before, long gone
            await asyncio.sleep(0.05)
            lane.devices.camera.show(image_of(1), capture=False)
            lane.devices.loops.set(arming=True)
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")

        run(lane, stale_frame)
        (record,) = [r for r in lane.latest() if r.kind == "exit"]
        assert record.plate_text == "皖A12345"


class TestLookups:
    """Lists, accounts and missing entries decide what a vehicle pays."""

    def test_no_entry_pays_the_unmatched_fee_and_is_flagged(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, entry=False)
        run(lane, one_vehicle)
        exit_ = only_exit(lane)
        assert exit_.fee_total == expected_fee(exit_)
        assert [i.label for i in exit_.fee_items] == ["lost ticket / no entry record"]
        assert "unmatched_exit" in exit_.flags
        assert exit_.payment_status == "approved"

    def test_prepaid_account_is_debited_not_the_gateway(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        with Store.open(tmp_path / "site.db") as store:
            store.accounts.put("acc-1", "CNY", 5000, [PLATE])
        run(lane, one_vehicle)
        exit_ = only_exit(lane)
        assert (exit_.payment_status, exit_.payment_method, exit_.listing) == (
            "approved",
            "account",
            "prepaid",
        )
        assert lane.gateway.orders() == []
        with Store.open(tmp_path / "site.db") as store:
            account = store.accounts.get("acc-1")
        assert account is not None
        # The tariff gives account holders 5 % off: the record and the debit say so.
        assert exit_.fee_total == expected_fee(exit_, "account") < expected_fee(exit_)
        assert account.balance == 5000 - expected_fee(exit_, "account")

    def test_low_balance_falls_through_to_qr(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        with Store.open(tmp_path / "site.db") as store:
            store.accounts.put("acc-1", "CNY", 300, [PLATE])
        run(lane, one_vehicle)
        exit_ = only_exit(lane)
        assert (exit_.payment_status, exit_.payment_method) == ("approved", "terminal")
        assert len(lane.gateway.orders("paid")) == 1

    def test_whitelisted_plate_passes_free(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        with Store.open(tmp_path / "site.db") as store:
            store.lists.replace("whitelist", 1, [ListEntry(PLATE)])
        run(lane, one_vehicle)
        exit_ = only_exit(lane)
        assert (exit_.fee_total, exit_.authorisation, exit_.payment_status) == (0, "rule", "none")
        assert lane.gateway.orders() == []

    def test_blacklisted_plate_is_held(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)
        with Store.open(tmp_path / "site.db") as store:
            store.lists.replace("blacklist", 1, [ListEntry(PLATE)])
        run(lane, held)
        assert [r.status for r in lane.latest() if r.kind == "exit"] == ["voided"]
        assert lane.events("blacklisted")
        assert "open" not in lane.devices.barrier.commands

    def test_entry_lane_opens_an_entry_and_refuses_a_second(self, tmp_path: Path) -> None:
        path = lane_files(tmp_path, lane_id="riverside-entry", lane_kind="parking_entry")
        lane = FakeLane(load_lane(path))

        async def two_entries(lane: FakeLane) -> None:
            await one_vehicle(lane)
            await held(lane)

        run(lane, two_entries)
        statuses = [r.status for r in lane.latest()]
        assert statuses == ["passed", "voided"]
        assert lane.events("anti_passback")
        with Store.open(tmp_path / "site.db") as store:
            entry = store.entries.find(PLATE)
        assert entry is not None
        assert entry.lane_id == "riverside-entry"


class TestDegradedModes:
    """Camera dark, recognition failing, store nearly full: configured outcome, recorded, alarmed."""

    def test_dark_camera_holds_the_vehicle_by_default(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)

        async def dark(lane: FakeLane) -> None:
            lane.devices.camera.go_dark("no frames for 3 s")
            await held(lane)

        run(lane, dark)
        (used,) = lane.events("degraded_mode")
        assert used.severity == "alarm"
        assert (used.detail["mode"], used.detail["outcome"]) == ("camera_dark", "deny_and_call")
        assert lane.events("device_fault")
        assert "open" not in lane.devices.barrier.commands

    def test_dark_camera_admits_for_review_when_configured(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, extra='\n[degraded]\ncamera_dark = "admit_for_review"\n')

        async def dark(lane: FakeLane) -> None:
            lane.devices.camera.go_dark("no frames for 3 s")
            await one_vehicle(lane)

        run(lane, dark)
        exit_ = only_exit(lane)
        assert (exit_.status, exit_.authorisation) == ("passed", "rule")
        assert "unreadable_plate" in exit_.flags
        assert lane.events("degraded_mode")[0].detail["outcome"] == "admit_for_review"

    def test_a_failing_reader_is_the_recognition_failing_mode(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)

        async def failing(lane: FakeLane) -> None:
            assert lane.reader is not None
            lane.reader.failing = RuntimeError("onnxruntime: invalid input")
            await held(lane)

        run(lane, failing)
        (used,) = lane.events("degraded_mode")
        assert used.detail["mode"] == "recognition_failing"
        assert "onnxruntime" in str(used.detail["cause"])

    def test_a_read_past_its_deadline_is_unreadable_and_not_the_next_vehicles(
        self, tmp_path: Path
    ) -> None:
        lane = exit_lane(
            tmp_path,
            policy="plate_read_timeout_s = 60",
            extra="\n[degraded]\nread_deadline_s = 0.5\n",
        )

        async def slow(lane: FakeLane) -> None:
            reader = lane.reader
            assert reader is not None
            reader.holding = True
            await held(lane)  # long before the plate timer
            lane.devices.loops.set(arming=False)
            await lane.settle(lambda: not denied(lane), "vehicle backed out")
            await lane.arrive()
            await lane.settle(lambda: len(reader.held) == 2, "the next vehicle's read begun")
            late, current = reader.held
            late.set_result(sure_read("皖B99999"))  # long after its deadline
            current.set_result(sure_read(PLATE))
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            await lane.settle(barrier_is(lane, Position.DOWN), "barrier down")

        run(lane, slow)
        first, second = [r for r in lane.latest() if r.kind == "exit"]
        assert (first.status, first.plate_text) == ("voided", None)
        assert "unreadable_plate" in first.flags
        assert (second.status, second.plate_text) == ("passed", PLATE)
        (late,) = lane.events("plate_read_late")
        assert (late.txn_id, late.detail["lane_waiting"]) == (first.id, True)
        assert "皖B99999" not in {r.plate_text for r in lane.records()}

    def test_unreadable_streak_raises_an_alarm(self, tmp_path: Path) -> None:
        lane = exit_lane(
            tmp_path,
            policy="plate_read_timeout_s = 0.3",
            extra="\n[degraded]\nunreadable_streak = 2\n",
        )

        async def unreadable(lane: FakeLane) -> None:
            for _ in range(2):
                await lane.arrive(plate_index=9)  # no plate the reader knows
                await lane.settle(lambda: denied(lane), "vehicle denied")
                lane.devices.loops.set(arming=False)
                await lane.settle(lambda: not denied(lane), "vehicle backed out")

        run(lane, unreadable)
        (alarm,) = lane.events("recognition_failing")
        assert alarm.detail["unreadable_in_a_row"] == 2

    def test_store_nearly_full_closes_the_lane_when_configured(self, tmp_path: Path) -> None:
        extra = '\n[degraded]\nstore_min_free_mb = 1000000000\nstore_nearly_full = "close_lane"\n'
        lane = exit_lane(tmp_path, extra=extra)

        async def closed(lane: FakeLane) -> None:
            await lane.settle(lambda: bool(lane.events("mode_changed")), "lane closed")
            await lane.arrive()
            await lane.settle(
                lambda: lane.devices.display.lines == ("Lane closed", "Please use another lane"),
                "lane closed shown",
            )

        run(lane, closed)
        (used,) = lane.events("degraded_mode")
        assert (used.detail["mode"], used.detail["outcome"]) == ("store_nearly_full", "close_lane")
        assert [r for r in lane.latest() if r.kind == "exit"] == []


def filler(at: datetime) -> LaneEvent:
    """A small event of the site's entry lane, written into the shared store."""
    return LaneEvent.build(
        id=uuid7(at), lane_id="riverside-entry", time=at, kind="x", severity="info"
    )


def present_size(store: Store) -> int:
    """The store's size in bytes: the lowest limit it takes (then the limit is lifted)."""
    size = store.limit_size(0)
    store.limit_size(None)
    return size


def fill(store: Store) -> None:
    """Write the entry lane's smallest records into the shared ``store`` until it is full:
    the exit lane's next transaction or event, larger, cannot fit anywhere."""

    def entry(at: datetime) -> None:
        store.append_transaction(
            Transaction.build(
                id=uuid7(at),
                lane_id="riverside-entry",
                kind="entry",
                status="voided",
                authorisation="rule",
                recorded_at=at,
            )
        )

    def event(at: datetime) -> None:
        store.append_event(filler(at))

    for write in (entry, event):
        while True:
            try:
                write(datetime.now(UTC))
            except StoreFullError:
                break


class TestStoreFull:
    """A commit refused for want of space: the lane stops safely, raises an alarm, loses
    nothing committed, and serves again once the store has space."""

    def test_full_store_stops_the_lane_and_resumes(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, policy="plate_read_timeout_s = 30")
        before: set[tuple[int, str]] = set()
        commands = 0

        async def fills_up(lane: FakeLane) -> None:
            nonlocal before, commands
            await one_vehicle(lane)
            before = {(r.lane_seq, r.hash) for r in lane.records()}
            store = lane.daemon.store
            store.limit_size(0)  # the file may not grow any more
            fill(store)
            commands = len(lane.devices.barrier.commands)
            await lane.arrive()  # its first record does not fit
            await lane.settle(lambda: lane.daemon.store_full, "the store seen full")
            await lane.settle(
                lambda: lane.devices.display.lines == ("Lane closed", "Please use another lane"),
                "lane closed shown",
            )
            assert lane.devices.barrier.commands[commands:] == []
            store.limit_size(None)  # space again; the vehicle still waits on the loop
            await lane.settle(lambda: not lane.daemon.store_full, "the lane resumed")
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            await lane.settle(barrier_is(lane, Position.DOWN), "barrier down")

        run(lane, fills_up)
        assert before <= {(r.lane_seq, r.hash) for r in lane.records()}
        (alarm,) = lane.events("store_full")
        (ended,) = lane.events("store_full_ended")
        assert alarm.severity == "alarm"
        assert alarm.time < ended.time
        assert "full" in str(alarm.detail["reason"])
        first, second = [r for r in lane.latest() if r.kind == "exit"]
        assert (first.status, second.status) == ("passed", "passed")
        assert second.payment_status == "approved"
        assert len(lane.gateway.orders("paid")) == 2
        assert verify(lane.files.lane.store).ok

    def test_safe_position_open_locks_it_open_and_a_stop_while_full_is_clean(
        self, tmp_path: Path
    ) -> None:
        lane = exit_lane(tmp_path, policy='safe_position = "open"')

        async def full_at_stop(lane: FakeLane) -> None:
            store = lane.daemon.store
            store.limit_size(0)
            fill(store)
            await lane.arrive()
            await lane.settle(lambda: lane.devices.barrier.locked, "barrier locked open")
            assert lane.daemon.store_full

        run(lane, full_at_stop)  # stops with the store still full
        assert lane.events("store_full") == []  # it could not be written: logged and counted
        assert [r for r in lane.latest() if r.kind == "exit"] == []
        assert verify(lane.files.lane.store).ok


class TestBarrierFaults:
    """Paid but the barrier does not open: payment stands, alarm, the driver is told, one charge."""

    def test_paid_barrier_fault(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)

        async def jammed(lane: FakeLane) -> None:
            lane.devices.barrier.jam("arm broken")
            await lane.arrive()
            await lane.settle(lambda: bool(lane.events("paid_barrier_fault")), "alarm raised")

        run(lane, jammed)
        versions = [r for r in lane.latest() if r.kind == "exit"]
        (exit_,) = versions
        assert exit_.payment_status == "approved"
        assert "barrier_fault" in exit_.flags
        assert ("Paid - barrier fault", "Wait: help is coming") in lane.devices.display.shown
        assert len(lane.gateway.orders("paid")) == 1
        assert lane.gateway.kept() == exit_.fee_total


class TestShutdown:
    """SIGTERM: the current passage is finished or voided, the barrier left in its safe position."""

    def test_waiting_vehicle_is_voided_and_its_order_closed(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())  # nobody pays

        async def waiting(lane: FakeLane) -> None:
            await lane.arrive()
            await lane.settle(lambda: bool(lane.gateway.orders()), "order created")

        run(lane, waiting)
        (exit_,) = [r for r in lane.latest() if r.kind == "exit"]
        assert exit_.status == "voided"
        assert "interrupted" in exit_.flags
        assert exit_.payment_status == "declined"
        assert [o["status"] for o in lane.gateway.orders()] == ["closed"]
        assert lane.devices.barrier.position() is Position.DOWN
        (stopped,) = lane.events("lane_stopped")
        assert stopped.detail["barrier"] == "closed"

    def test_barrier_is_not_closed_on_a_vehicle(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path)

        async def under(lane: FakeLane) -> None:
            await lane.arrive()
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            lane.devices.loops.set(safety=True)

        run(lane, under)
        assert lane.devices.barrier.position() is Position.UP
        assert lane.events("barrier_left_open")

    def test_safe_position_open_leaves_it_locked_open(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, policy='safe_position = "open"')
        run(lane, one_vehicle)
        assert lane.devices.barrier.locked
        assert lane.events("lane_stopped")[0].detail["barrier"] == "open"


class TestRecovery:
    """A restart resolves what the last run left open, never charging twice."""

    def test_paid_order_of_an_interrupted_passage_is_not_charged_again(
        self, tmp_path: Path
    ) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())
        # The last run recorded the charge, the customer paid, the lane died before hearing it.
        # 20 CNY is more than the two-hour stay costs at any hour (16 CNY at most, into a
        # holiday; 11 CNY across 08:00), so the credit covers the fee whenever the test runs.
        pending = seed_pending_payment(tmp_path / "site.db", lane.gateway, amount=2000)
        lane.devices.loops.set(arming=False)
        run(lane, one_vehicle)
        exits = {r.id: r for r in lane.latest() if r.kind == "exit"}
        interrupted = exits.pop(pending)
        assert (interrupted.status, interrupted.payment_status) == ("voided", "approved")
        assert {"interrupted", "refund_review"} <= set(interrupted.flags)
        (admitted,) = exits.values()
        assert admitted.status == "passed"
        assert admitted.fee_total == 0
        # The fee due now (it depends on the time of day) is covered by what was paid.
        *due, credit = admitted.fee_items
        assert credit.label.startswith(f"paid before a lane restart (txn {pending}")
        assert credit.amount == -sum(item.amount for item in due) >= -2000
        assert admitted.authorisation == "rule"
        assert len(lane.gateway.orders("paid")) == 1
        assert lane.gateway.kept() == 2000
        assert lane.events("passage_recovered")[0].detail["why"] == "restart"

    def test_credit_of_a_vehicle_that_backed_away_covers_its_return(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())
        pending = seed_pending_payment(tmp_path / "site.db", lane.gateway, amount=2000)
        lane.devices.loops.set(arming=False)

        def voided(lane: FakeLane) -> list[TransactionRecord]:
            return [r for r in lane.latest() if r.status == "voided" and r.id != pending]

        async def backs_away_and_returns(lane: FakeLane) -> None:
            await lane.arrive()
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            lane.devices.loops.set(arming=False)  # backs away instead of driving through
            await lane.settle(lambda: bool(voided(lane)), "passage voided")
            await lane.settle(barrier_is(lane, Position.DOWN), "barrier down")
            await one_vehicle(lane)

        run(lane, backs_away_and_returns)
        (backed_away,) = voided(lane)
        passed = [r for r in lane.latest() if r.status == "passed"]
        assert len(passed) == 1
        for record in (backed_away, passed[0]):
            assert record.fee_total == 0
            assert record.fee_items[-1].label.startswith(
                f"paid before a lane restart (txn {pending}"
            )
        assert lane.gateway.orders("paid") == lane.gateway.orders()  # nothing else was asked

    def test_a_credit_outlives_the_restart_that_made_it(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())
        pending = seed_pending_payment(tmp_path / "site.db", lane.gateway, amount=2000)
        with Store.open(tmp_path / "site.db") as store:  # a first restart voided it, then died
            paid = store.transaction(pending)
            assert paid is not None
            voided = {k: v for k, v in paid.model_dump().items() if k in Transaction.model_fields}
            voided.update(
                status="voided", payment_status="approved", flags=("interrupted", "refund_review")
            )
            store.append_transaction(Transaction.build(**voided))
        lane.devices.loops.set(arming=False)
        run(lane, one_vehicle)
        (admitted,) = [r for r in lane.latest() if r.kind == "exit" and r.id != pending]
        assert (admitted.status, admitted.fee_total) == ("passed", 0)
        assert admitted.fee_items[-1].label.startswith(f"paid before a lane restart (txn {pending}")
        assert lane.gateway.orders("paid") == lane.gateway.orders()  # nothing asked again

    def test_paid_vehicle_still_at_the_barrier_is_let_through_on_its_payment(
        self, tmp_path: Path
    ) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())
        # The customer paid, the lane died before hearing it; the vehicle still waits.
        pending = seed_pending_payment(tmp_path / "site.db", lane.gateway, amount=2000)
        lane.devices.loops.set(arming=True)

        async def drives_out(lane: FakeLane) -> None:
            await lane.settle(barrier_is(lane, Position.UP), "barrier up for the paid passage")
            await lane.drive_through()
            await lane.settle(barrier_is(lane, Position.DOWN), "barrier down")

        run(lane, drives_out)
        exits = [r for r in lane.latest() if r.kind == "exit"]
        assert [(r.id, r.status, r.authorisation) for r in exits] == [(pending, "passed", "paid")]
        assert "interrupted" in exits[0].flags
        assert len(lane.gateway.orders()) == 1
        assert lane.gateway.kept() == 2000
        with Store.open(tmp_path / "site.db") as store:
            assert store.entries.count() == 0  # its entry is closed
        recovered = lane.events("passage_recovered")[0].detail
        assert (recovered["from_status"], recovered["to_status"]) == (
            "pending_payment",
            "authorised",
        )

    def test_unpaid_interrupted_passage_is_voided_and_its_order_closed(
        self, tmp_path: Path
    ) -> None:
        lane = exit_lane(tmp_path, faults=GatewayFaults())
        pending = seed_pending_payment(tmp_path / "site.db", lane.gateway, amount=1000, pay=False)
        run(lane, lambda lane: asyncio.sleep(0))
        record = {r.id: r for r in lane.latest()}[pending]
        assert (record.status, record.payment_status) == ("voided", "declined")
        assert [o["status"] for o in lane.gateway.orders()] == ["closed"]
        assert lane.gateway.kept() == 0


class TestStartFailures:
    """A missing device or a model that does not load fails the start, naming it."""

    def test_dark_camera_at_start_names_the_camera(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        devices = Devices()
        devices.camera.dark = True
        path = lane_files(tmp_path)
        lane = FakeLane(
            load_lane(path), devices=devices, options=replace(FAST, device_timeout_s=0.2)
        )
        message = _start_error(lane, StartupError)
        assert "camera: no frame received within 0.2 s" in message

    def test_device_fault_at_start_names_the_device(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        devices = Devices(loops=UnreachableLoops())
        lane = FakeLane(load_lane(lane_files(tmp_path)), devices=devices)
        assert _start_error(lane, StartupError) == "loops: cannot connect to tcp 127.0.0.1:5020"

    def test_a_full_store_at_start_names_it(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        with Store.open(tmp_path / "site.db") as store:
            while present_size(store) <= 1024 * 1024:
                with store.batch():
                    for _ in range(500):
                        store.append_event(filler(datetime.now(UTC)))
            store.limit_size(0)
            fill(store)  # not a page with room left
        path = lane_files(tmp_path, extra="\n[degraded]\nstore_max_mb = 1\n")
        lane = FakeLane(load_lane(path))
        assert "the store is full" in _start_error(lane, StartupError)

    def test_model_that_does_not_load(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        class MissingModel(BookRecognition):
            def start(self) -> None:
                raise FileNotFoundError("PP-OCRv6_rec_small.onnx")

        lane = FakeLane(load_lane(lane_files(tmp_path)))
        lane.daemon.recognition = lambda config: MissingModel({}, config)
        message = _start_error(lane, StartupError)
        assert message.startswith("recognition: the plate reader did not load")
        assert "PP-OCRv6_rec_small.onnx" in message
        assert not lane.devices.camera.started

    def test_store_that_is_a_folder(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        (tmp_path / "folder.db").mkdir()
        lane = FakeLane(load_lane(lane_files(tmp_path, store=tmp_path / "folder.db")))
        assert "store: cannot open" in _start_error(lane, StartupError)

    def test_gateway_secret_variable_unset(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        extra = PAYMENTS_QR.format(postpay="never", gateway="http://gateway.test").replace(
            f'secret = "{SECRET.decode()}"', 'secret_env = "LANE_GATEWAY_SECRET"'
        )
        lane = FakeLane(load_lane(lane_files(tmp_path, extra=extra)))
        message = _start_error(lane, StartupError)
        assert "LANE_GATEWAY_SECRET" in message


def _start_error(lane: FakeLane, error: type[Exception]) -> str:
    async def main() -> str:
        try:
            await lane.start()
        except error as exc:
            return str(exc)
        await lane.daemon.stop()
        raise AssertionError("the lane started")

    return asyncio.run(main())


class TestRunner:
    """A lane in a background thread, as the demo and the bench start it."""

    def test_starts_serves_and_stops(self, tmp_path: Path) -> None:
        from edge.daemon.runner import LaneRunner

        devices = Devices()
        files = load_lane(
            lane_files(tmp_path, lane_id="riverside-entry", lane_kind="parking_entry")
        )
        lane = FakeLane(files, devices=devices)
        runner = LaneRunner(
            files,
            environ={},
            drivers=devices.lane_drivers(),
            recognition=lane.daemon.recognition,
            options=lane.daemon.options,
        )
        runner.start()
        try:
            devices.camera.show(image_of(1))
            devices.loops.set(arming=True)
            wait_until(lambda: devices.barrier.position() is Position.UP, "barrier up")
        finally:
            runner.stop()
        assert runner.clean is True
        assert not devices.camera.started
        # Stopped while the vehicle stood at the open barrier: it has not passed.
        (entry,) = lane.latest()
        assert (entry.status, entry.flags) == ("voided", ("interrupted",))

    def test_start_failure_is_raised_in_the_caller(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError
        from edge.daemon.runner import LaneRunner

        (tmp_path / "folder.db").mkdir()
        files = load_lane(lane_files(tmp_path, store=tmp_path / "folder.db"))
        runner = LaneRunner(files, environ={}, drivers=Devices().lane_drivers())
        with pytest.raises(StartupError, match="store: cannot open"):
            runner.start()


class TestEvidenceAndMetrics:
    """Evidence images go into the record; metrics count what the lane did."""

    def test_frame_kept_and_named_in_the_record(self, tmp_path: Path) -> None:
        from edge.config.evidence import EvidenceConfig
        from edge.evidence import Evidence

        extra = (
            f'\n[evidence]\ndirectory = "{tmp_path / "evidence"}"\n'
            f'pseudonym_key_file = "{tmp_path / "site.key"}"\n'
        )
        lane = exit_lane(tmp_path, extra=extra)
        run(lane, one_vehicle)
        exit_ = only_exit(lane)
        (image_id,) = exit_.evidence_image_ids
        assert "-frame-" in image_id
        config = EvidenceConfig(directory=tmp_path / "evidence")
        assert Evidence(config, "riverside-exit").path_of(image_id).is_file()

    def test_old_plate_text_is_pseudonymised(self, tmp_path: Path) -> None:
        extra = (
            f'\n[evidence]\ndirectory = "{tmp_path / "evidence"}"\n'
            f'pseudonym_key_file = "{tmp_path / "site.key"}"\n'
            "retention_days = 1\nplate_retention_days = 1\n"
        )
        path = lane_files(tmp_path, extra=extra)
        old = seed_entry(tmp_path / "site.db", hours=48)
        options = replace(FAST, retention_s=0.05)
        lane = FakeLane(load_lane(path), options=options)

        def pseudonymised() -> bool:
            with Store.open(tmp_path / "site.db") as store:
                record = store.transaction(old.id)
            return record is not None and record.plate_text is None

        async def wait(lane: FakeLane) -> None:
            await lane.settle(pseudonymised, "plate pseudonymised")

        run(lane, wait)
        assert verify(tmp_path / "site.db").ok

    def test_metrics_count_a_paid_passage(self, tmp_path: Path) -> None:
        lane = exit_lane(tmp_path, extra="\n[metrics]\nport = 0\n")
        scraped: list[str] = []

        async def scrape(lane: FakeLane) -> None:
            await one_vehicle(lane)
            server = lane.daemon.metrics_server
            assert server is not None
            url = f"http://127.0.0.1:{server.port}/metrics"
            scraped.append(await asyncio.to_thread(_get, url))

        run(lane, scrape)
        text = scraped[0]
        assert 'lanewarden_vehicles_total{lane_kind="parking_exit",outcome="passed"} 1.0' in text
        assert 'lanewarden_payments_total{method="qr",status="paid"} 1.0' in text
        assert "lanewarden_barrier_cycles_total 1.0" in text
        assert "lanewarden_loop_to_open_seconds_count 1.0" in text
        assert 'lanewarden_plate_reads_total{result="read"} 1.0' in text


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


class TestPortsTaken:
    """A port the lane must listen on is taken: the start fails naming the setting."""

    def test_callback_port_taken(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            extra = PAYMENTS_QR.format(postpay="never", gateway="http://gateway.test").replace(
                "port = 0", f"port = {port}"
            )
            lane = FakeLane(load_lane(lane_files(tmp_path, extra=extra)))
            message = _start_error(lane, StartupError)
        assert message.startswith(f"payments.gateway.callback: cannot listen on 127.0.0.1:{port}")

    def test_metrics_port_taken(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            lane = FakeLane(load_lane(lane_files(tmp_path, extra=f"\n[metrics]\nport = {port}\n")))
            message = _start_error(lane, StartupError)
        assert message.startswith(f"metrics: cannot listen on 127.0.0.1:{port}")


class UnreachableDisplay(FakeDisplay):
    """A display on a serial port that is not there."""

    def start(self, sink: EventSink) -> None:
        super().start(sink)
        self.fault("cannot open serial port /dev/ttyUSB2")


class TestSeveralDevicesMissing:
    """Every device that fails at start is named, not only the first."""

    def test_loops_and_display_named(self, tmp_path: Path) -> None:
        from edge.daemon.lane_daemon import StartupError

        devices = Devices(loops=UnreachableLoops(), display=UnreachableDisplay())
        lane = FakeLane(load_lane(lane_files(tmp_path)), devices=devices)
        assert _start_error(lane, StartupError) == (
            "loops: cannot connect to tcp 127.0.0.1:5020; "
            "display: cannot open serial port /dev/ttyUSB2"
        )
