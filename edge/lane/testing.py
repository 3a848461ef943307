"""The pure lane machine stepped by hand, for tests and for replaying a lane's decisions.

Public API (as ``structlog.testing`` is): :class:`Lane` steps
:func:`edge.lane.step` a second at a time from :data:`T0` and checks, after every
step, what must hold whatever the scenario (actions in record-first order, no
close on an occupied safety loop). A technician can script an incident the same
way to see what the lane would decide. :func:`of`, :func:`txns` and
:func:`alarms` pick actions of one kind out of a step's result.

Like the core it drives, this module reads no clock and does no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from edge.lane import LaneState, step
from edge.lane.actions import (
    Action,
    Alarm,
    Capture,
    CloseBarrier,
    RaiseAlarm,
    RecordTransaction,
    RequestPayment,
    ordering_problems,
)
from edge.lane.events import (
    ArmingLoop,
    Event,
    PaymentOutcome,
    PaymentResult,
    PlateRead,
    SafetyLoop,
    Timer,
    TimerExpired,
    VehicleChecked,
)
from edge.lane.policy import LaneKind, LanePolicy
from edge.lane.records import Fee, FeeLine, OpenEntry, Txn

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
"""When a :class:`Lane` starts; each step is one second later."""
A = TypeVar("A")


def quote(total: int) -> Fee:
    """A fee quote of ``total`` fen for parking (Riverside tariff, version 3)."""
    return Fee((FeeLine("parking", total),), total, "CNY", "riverside", 3)


def entry_record() -> OpenEntry:
    """An open entry made two hours before :data:`T0` at the north entry lane."""
    return OpenEntry(UUID(int=42), T0 - timedelta(hours=2), "north", "north-entry")


def of(actions: tuple[Action, ...], kind: type[A]) -> list[A]:
    """The actions of ``kind``, in order."""
    return [a for a in actions if isinstance(a, kind)]


def txns(actions: tuple[Action, ...]) -> list[Txn]:
    """The transactions the actions record, in order."""
    return [a.txn for a in of(actions, RecordTransaction)]


def alarms(actions: tuple[Action, ...]) -> list[Alarm]:
    """The alarms the actions raise, in order."""
    return [a.alarm for a in of(actions, RaiseAlarm)]


class Lane:
    """One lane under test: steps the machine a second at a time and checks record-first order."""

    def __init__(self, kind: LaneKind = LaneKind.PARKING_EXIT, **policy: Any) -> None:
        self.state = LaneState.initial("t1", kind, LanePolicy(**policy), b"nonce-for-tests")
        self.now = T0

    def feed(self, event: Event) -> tuple[Action, ...]:
        """Step the machine one second later; fails if the actions break a safety rule."""
        self.now += timedelta(seconds=1)
        self.state, actions = step(self.state, event, self.now)
        problems = ordering_problems(actions)
        if problems:
            raise AssertionError(f"{event}: actions out of record-first order: {problems}")
        if of(actions, CloseBarrier) and self.state.safety:
            raise AssertionError(f"{event}: closed on an occupied safety loop")
        return actions

    def arrive(self) -> UUID:
        """A vehicle on the arming loop; the id of the transaction its capture starts."""
        (capture,) = of(self.feed(ArmingLoop(True)), Capture)
        return capture.txn_id

    def read(self, txn_id: UUID, plate: str = "皖A12345") -> tuple[Action, ...]:
        """The plate of ``txn_id`` read with confidence 0.97."""
        return self.feed(PlateRead(txn_id, plate, 0.97))

    def expire(self, timer: Timer) -> tuple[Action, ...]:
        """``timer`` runs out; fails if it is not running."""
        token = self.state.timer_token(timer)
        if token is None:
            raise AssertionError(f"timer {timer} is not running")
        return self.feed(TimerExpired(timer, token))

    def request(self) -> RequestPayment:
        """Arrive, read, check with a 500 fee quote: the payment request."""
        txn_id = self.arrive()
        self.read(txn_id)
        (req,) = of(
            self.feed(VehicleChecked(txn_id, open_entry=entry_record(), quote=quote(500))),
            RequestPayment,
        )
        return req

    def paid(self) -> UUID:
        """A vehicle that paid its 500 fen; its transaction id."""
        req = self.request()
        self.feed(PaymentResult(req.txn_id, req.key, PaymentOutcome.APPROVED, 500, "gw-1"))
        return req.txn_id

    def drive_through(self) -> tuple[Action, ...]:
        """Safety on, arming off, safety off: the actions of the last step."""
        self.feed(SafetyLoop(True))
        self.feed(ArmingLoop(False))
        return self.feed(SafetyLoop(False))
