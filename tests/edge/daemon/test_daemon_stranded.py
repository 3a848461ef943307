"""A car whose plate the exit cannot read is helped out: by an operator over ctl, or pay by plate.

The lane daemon on fake devices (``fleet.testing.FakeLane``) with policy
``offer_help``; operator commands go over the lane's real control socket.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.commands import CommandResult, new_command
from drivers.interfaces import Position
from edge.daemon.control import send
from edge.daemon.testing import PLATE, image_of
from edge.payments.testing import MERCHANT
from edge.store import Store
from fleet.testing import FakeLane, barrier_is, exit_lane, only_exit, run
from plumbing.cli import main
from simulators.gateway.faults import GatewayFaults

STRANDED = 'unreadable_plate = "offer_help"\nhelp_wait_s = 60\nplate_read_timeout_s = 0.3\n'
TYPE_PLATE = ("Plate not read: scan QR", "to pay by plate, or wait")
UNREAD = 9  # an image the fake reader finds no plate in


def stranded_lane(tmp_path: Path, **kwargs: Any) -> FakeLane:
    return exit_lane(tmp_path, policy=STRANDED, **kwargs)


def socket_of(lane: FakeLane) -> Path:
    return lane.files.lane.control_socket()


async def ctl(lane: FakeLane, kind: str, **fields: Any) -> CommandResult:
    """One command over the lane's control socket, as ``lanewarden edge ctl`` sends it."""
    reason = fields.pop("reason", "helping a stranded driver")
    command = new_command(kind, operator_id="op-7", reason=reason, now=datetime.now(UTC), **fields)
    (result,) = await send(socket_of(lane), [command])
    return result


async def strand(lane: FakeLane) -> None:
    """A vehicle with an unreadable plate arrives and is left waiting for help."""
    lane.devices.camera.show(image_of(UNREAD))
    lane.devices.loops.set(arming=True)
    await lane.settle(lambda: bool(lane.events("assistance")), "assistance alarm")


def kinds_in_order(lane: FakeLane) -> list[str]:
    return [e.kind for e in lane.events()]


class TestStranded:
    """The driver is told what to do, an assistance alarm is raised, the barrier stays down."""

    def test_display_alarm_and_a_closed_barrier(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path)
        run(lane, strand)
        assert TYPE_PLATE in lane.devices.display.shown
        (alarm,) = lane.events("assistance")
        assert alarm.severity == "alarm"
        assert "open" not in lane.devices.barrier.commands


class TestOperatorOpen:
    """ctl open: the command and the operator open are recorded before the barrier moves."""

    def test_open_records_first_then_lets_the_car_out(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path)
        results: list[CommandResult] = []

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            results.append(await ctl(lane, "open", reason="driver showed a paper ticket"))
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            await lane.settle(lambda: only_exit(lane).status == "passed", "passed")

        run(lane, scenario)
        (result,) = results
        assert result.ok, result.error
        kinds = kinds_in_order(lane)
        assert kinds.index("operator_command") < kinds.index("operator_open")
        (command,) = lane.events("operator_command")
        assert command.detail["operator_id"] == "op-7"
        assert command.detail["reason"] == "driver showed a paper ticket"
        record = only_exit(lane)
        assert (record.authorisation, record.operator_id) == ("operator", "op-7")
        assert record.operator_reason == "driver showed a paper ticket"


class TestOperatorTypedPlate:
    """ctl charge-plate: the typed plate finds the entry (confusable-aware) and is charged once."""

    def test_typed_plate_with_a_confusable_character_is_charged_and_closes_the_entry(
        self, tmp_path: Path
    ) -> None:
        lane = stranded_lane(tmp_path)
        typed = PLATE[:-1] + "S"  # 皖A1234S: S for 5, as a driver or an operator may type it

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            result = await ctl(lane, "charge_plate", plate=typed, reason="read it on camera 2")
            assert result.ok, result.error
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            await lane.settle(lambda: only_exit(lane).status == "passed", "passed")

        run(lane, scenario)
        record = only_exit(lane)
        assert record.plate_text == typed
        assert {"plate_typed", "unreadable_plate"} <= set(record.flags)
        assert "unmatched_exit" not in record.flags
        assert record.entry_time is not None
        assert record.payment_status == "approved"
        assert (record.operator_id, record.operator_reason) == ("op-7", "read it on camera 2")
        assert len(lane.gateway.orders("paid")) == 1
        assert lane.gateway.kept() == record.fee_total
        assert [e.kind for e in lane.events("operator_plate")] == ["operator_plate"]
        with Store.open(lane.files.lane.store) as store:
            assert store.entries.count() == 0


class TestTurnAway:
    """ctl turn-away: refused, recorded, asked to reverse; backing out voids without charge."""

    def test_turned_away_and_voided(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path)

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            result = await ctl(lane, "turn_away", reason="no ticket, no entry found")
            assert result.ok, result.error
            assert result.lane["vehicle"]["status"] == "denied"
            lane.devices.loops.set(arming=False)
            await lane.settle(lambda: only_exit(lane).status == "voided", "voided")

        run(lane, scenario)
        assert ("Entry refused", "Please reverse") in lane.devices.display.shown
        assert lane.events("operator_turn_away")
        assert lane.gateway.kept() == 0
        assert "open" not in lane.devices.barrier.commands


class TestSocket:
    """The control socket: mode 0660, status, clear errors for bad lines, refused commands."""

    def test_status_and_refusals(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path)
        answers: dict[str, Any] = {}

        async def scenario(lane: FakeLane) -> None:
            path = socket_of(lane)
            answers["mode"] = stat.S_IMODE(os.stat(path).st_mode)
            answers["status"] = await ctl(lane, "status")
            answers["no_vehicle"] = await ctl(lane, "charge_plate", plate=PLATE)
            reader, writer = await asyncio.open_unix_connection(os.fspath(path))
            lines = [b"not json\n", b'{"type": "open"}\n', b'{"type": "fly", "command_id": "x"}\n']
            for raw in lines:
                writer.write(raw)
            await writer.drain()
            answers["bad"] = [
                CommandResult.model_validate_json(await reader.readline()) for _ in lines
            ]
            writer.close()
            await writer.wait_closed()
            answers["mode_set"] = await ctl(lane, "set_mode", mode="closed", reason="works")

        run(lane, scenario)
        assert answers["mode"] == 0o660
        status = answers["status"]
        assert status.ok
        assert status.lane["lane_id"] == "riverside-exit"
        assert status.lane["mode"] == "normal"
        assert status.lane["vehicle"] is None
        refused = answers["no_vehicle"]
        assert not refused.ok
        assert "charge_plate: no vehicle with an unread plate" in refused.error
        not_json, missing, unknown = answers["bad"]
        assert not not_json.ok
        assert "not a JSON object" in not_json.error
        assert "reason: Field required" in missing.error
        assert unknown.command_id == "x"
        assert "type: expected one of" in unknown.error
        assert answers["mode_set"].lane["mode"] == "closed"
        assert lane.events("mode_changed")
        assert not socket_of(lane).exists()  # removed when the lane stopped

    def test_a_repeated_command_is_carried_out_once(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path)
        answers: list[CommandResult] = []

        async def scenario(lane: FakeLane) -> None:
            command = new_command(
                "set_mode", operator_id="op-1", reason="r", now=datetime.now(UTC), mode="closed"
            )
            answers.extend(await send(socket_of(lane), [command, command]))

        run(lane, scenario)
        assert answers[0] == answers[1]
        assert len(lane.events("operator_command")) == 1


class TestCli:
    """``lanewarden edge ctl`` talks to the running lane through its lane file."""

    def test_status_and_open_from_the_command_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        lane = stranded_lane(tmp_path)
        codes: list[int] = []
        config = str(lane.files.path)

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            codes.append(
                await asyncio.to_thread(main, ["edge", "ctl", "--config", config, "status"])
            )
            codes.append(
                await asyncio.to_thread(
                    main,
                    [
                        "edge",
                        "ctl",
                        "--config",
                        config,
                        "open",
                        "--operator",
                        "op-9",
                        "--reason",
                        "intercom",
                    ],
                )
            )
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")

        run(lane, scenario)
        assert codes == [0, 0]
        out = capsys.readouterr().out
        assert "vehicle:" in out
        assert '"phase": "stranded"' in out
        (event,) = lane.events("operator_open")
        assert event.operator_id == "op-9"

    def test_open_needs_a_reason(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as caught:
            main(["edge", "ctl", "--lane", "x", "open", "--operator", "op-1"])
        assert caught.value.code == 2
        assert "--reason" in capsys.readouterr().err

    def test_no_lane_listening(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(["edge", "ctl", "--socket", str(tmp_path / "none.sock"), "status"])
        assert code == 69
        assert "no lane answers on" in capsys.readouterr().err


class TestPayByPlate:
    """The driver scans the QR code and types the plate; the lane charges that plate once."""

    def test_typed_plate_at_the_gateway_is_charged_and_lets_the_car_out(
        self, tmp_path: Path
    ) -> None:
        lane = stranded_lane(tmp_path, faults=GatewayFaults())  # nobody pays unless they type

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            page = f"http://gateway.test/pay-by-plate/{MERCHANT}/riverside-exit"
            await lane.settle(
                lambda: ("Scan QR, type your plate", page) in lane.devices.display.shown,
                "pay-by-plate QR code shown",
            )
            lane.gateway.sim.type_plate("riverside-exit", PLATE)
            await lane.settle(barrier_is(lane, Position.UP), "barrier up")
            await lane.drive_through()
            await lane.settle(lambda: only_exit(lane).status == "passed", "passed")

        run(lane, scenario)
        record = only_exit(lane)
        assert record.plate_text == PLATE
        assert "plate_typed" in record.flags
        assert record.entry_time is not None
        assert record.operator_id is None
        (order,) = lane.gateway.orders()
        assert order["status"] == "paid"
        assert lane.gateway.kept() == record.fee_total
        (typed,) = lane.gateway.sim.state()["plate_orders"]
        assert typed["order_id"] == order["order_id"]

    def test_a_plate_typed_before_the_car_came_is_not_taken(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path, faults=GatewayFaults())
        lane.gateway.sim.clock = lambda: time.time() - 60  # typed a minute before the car came
        lane.gateway.sim.type_plate("riverside-exit", "皖B00000")
        lane.gateway.sim.clock = time.time

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            await asyncio.sleep(0.5)  # several polls of the gateway

        run(lane, scenario)
        assert lane.gateway.orders() == []
        assert only_exit(lane).plate_text is None


class TestHelpButton:
    """The help button at the lane raises an assistance alarm for the stranded car."""

    def test_press_is_recorded_as_an_alarm(self, tmp_path: Path) -> None:
        lane = stranded_lane(tmp_path)

        async def scenario(lane: FakeLane) -> None:
            await strand(lane)
            lane.devices.loops.press_help()
            await lane.settle(lambda: len(lane.events("assistance")) == 2, "second alarm")

        run(lane, scenario)
        first, pressed = lane.events("assistance")
        assert pressed.detail["detail"] == "the driver pressed the help button"
        assert pressed.txn_id == first.txn_id
        assert ("Please wait", "An operator is called") in lane.devices.display.shown
