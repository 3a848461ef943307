"""Operator commands carried out on a running lane: recorded first, then through the machine.

Every command that changes the lane is written to the store (``operator_command``
with its id, type, operator and reason) before its event goes to the lane
machine, which records its own decision (``operator_open``, ``mode_changed``...)
before it moves the barrier. A command repeated with the same ``command_id``
(a resend) gets the first answer again and is not carried out twice.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from contracts.commands import (
    ChargePlateCommand,
    CloseCommand,
    Command,
    CommandResult,
    OpenCommand,
    SetModeCommand,
    StatusCommand,
    TurnAwayCommand,
)
from edge.daemon.executor import LaneShell
from edge.lane import LaneState
from edge.lane.events import (
    Event,
    Mode,
    OperatorClose,
    OperatorOpen,
    PlateTyped,
    SetMode,
    TurnAway,
)
from edge.lane.state import Phase
from plumbing import log

logger = log.get(__name__)

WAITING_FOR_A_PLATE = frozenset({Phase.STRANDED, Phase.HELP})


class OperatorDesk:
    """Answers :mod:`contracts.commands` for one lane shell (the control socket's handler)."""

    def __init__(self, shell: LaneShell, *, timeout_s: float = 10.0, remember: int = 256) -> None:
        self.shell = shell
        self.timeout_s = timeout_s
        self.remember = remember
        self._answered: OrderedDict[str, CommandResult] = OrderedDict()
        self._running: dict[str, asyncio.Future[CommandResult]] = {}

    async def handle(self, command: Command) -> CommandResult:
        earlier = self._answered.get(command.command_id)
        if earlier is not None:
            return earlier
        if isinstance(command, StatusCommand):
            return await self._answer(command)
        # A repeat that arrives while the first is still being carried out (MQTT hands
        # commands over concurrently) waits for the first one's answer.
        running = self._running.get(command.command_id)
        if running is None:
            running = asyncio.ensure_future(self._answer(command))
            self._running[command.command_id] = running
            running.add_done_callback(lambda _: self._running.pop(command.command_id, None))
        return await asyncio.shield(running)

    async def _answer(self, command: Command) -> CommandResult:
        result = await self._carry_out(command)
        if not isinstance(command, StatusCommand):
            self._answered[command.command_id] = result
            while len(self._answered) > self.remember:
                self._answered.popitem(last=False)
        logger.info(
            "operator_command",
            command_id=command.command_id,
            type=command.type,
            operator_id=command.operator_id,
            ok=result.ok,
            error=result.error,
        )
        return result

    async def _carry_out(self, command: Command) -> CommandResult:
        if isinstance(command, StatusCommand):
            return self._result(command, None)
        try:
            event = self._event(command)
        except _RefusedError as exc:
            return self._result(command, str(exc))
        self._record(command)
        try:
            await self.shell.submit(event, self.timeout_s)
        except TimeoutError:
            return self._result(command, f"the lane did not take it within {self.timeout_s:g} s")
        except RuntimeError as exc:
            return self._result(command, str(exc))
        return self._result(command, None)

    def _event(self, command: Command) -> Event:
        """The machine event for a command, or _RefusedError when the lane cannot take it now."""
        who, why = command.operator_id, command.reason
        passage = self.shell.state.passage
        match command:
            case OpenCommand():
                return OperatorOpen(who, why)
            case CloseCommand():
                return OperatorClose(who, why)
            case SetModeCommand(mode=mode):
                return SetMode(Mode(mode), who, why)
            case ChargePlateCommand(plate=plate):
                if (
                    passage is None
                    or passage.phase not in WAITING_FOR_A_PLATE
                    or passage.txn.plate_text is not None
                ):
                    raise _RefusedError(
                        "charge_plate: no vehicle with an unread plate waits at the barrier "
                        f"({_vehicle_phrase(self.shell.state)})"
                    )
                return PlateTyped(passage.txn.id, plate.strip().upper(), who, why)
            case TurnAwayCommand():
                if passage is None or passage.authorised:
                    raise _RefusedError(
                        "turn_away: no unauthorised vehicle waits at the barrier "
                        f"({_vehicle_phrase(self.shell.state)})"
                    )
                return TurnAway(who, why)
        raise _RefusedError(f"type: {command.type} is not handled by this lane")

    def _record(self, command: Command) -> None:
        passage = self.shell.state.passage
        detail: dict[str, str] = {
            "command_id": command.command_id,
            "type": command.type,
            "operator_id": command.operator_id,
            "reason": command.reason,
        }
        if isinstance(command, SetModeCommand):
            detail["mode"] = command.mode
        if isinstance(command, ChargePlateCommand):
            detail["plate"] = command.plate
        self.shell.recorder.event(
            "operator_command",
            datetime.now(UTC),
            txn_id=passage.txn.id if passage is not None else None,
            detail=detail,
        )

    def _result(self, command: Command, error: str | None) -> CommandResult:
        return CommandResult(
            command_id=command.command_id,
            ok=error is None,
            error=error,
            lane=lane_status(self.shell.state),
        )


class _RefusedError(Exception):
    pass


def lane_status(state: LaneState) -> dict[str, Any]:
    """What ``ctl status`` shows: mode, barrier, loops and the vehicle being served."""
    p = state.passage
    vehicle = None
    if p is not None:
        vehicle = {
            "txn_id": str(p.txn.id),
            "phase": p.phase.value,
            "status": p.txn.status.value,
            "plate": p.txn.plate_text,
            "fee_total": p.txn.fee_total,
            "currency": p.txn.currency,
            "flags": [f.value for f in p.txn.flags],
        }
    return {
        "lane_id": state.lane_id,
        "mode": state.mode.value,
        "barrier": state.barrier.value,
        "barrier_command": state.command.value,
        "arming_loop": state.arming,
        "safety_loop": state.safety,
        "vehicle": vehicle,
        "leaving": len(state.leaving),
        "operator_grant": state.grant.operator_id if state.grant is not None else None,
    }


def _vehicle_phrase(state: LaneState) -> str:
    p = state.passage
    if p is None:
        return "no vehicle"
    return f"vehicle {p.txn.id} is {p.phase.value}"
