"""The lane's state: immutable, compared by value, rebuilt by every step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contracts.uuid7 import MIN_NONCE_BYTES
from edge.lane.events import Mode, Timer
from edge.lane.policy import LaneKind, LanePolicy
from edge.lane.records import LaneInputError, PaymentMethod, Txn


class Phase(StrEnum):
    """Where the machine is with the vehicle on the arming loop."""

    READING = "reading"  # captured, waiting for the plate
    CHECKING = "checking"  # waiting for the shell's lookup
    PAYING = "paying"  # waiting for a payment result
    AUTHORISED = "authorised"  # the barrier is (being) opened for it
    BLOCKED = "blocked"  # authorised, but the barrier is in fault
    HELP = "help"  # refused or undecided: an operator has been called
    STRANDED = "stranded"  # plate not read: waiting for a typed plate (pay by plate) or an operator


AUTHORISED_PHASES = frozenset({Phase.AUTHORISED, Phase.BLOCKED})


class KnownPosition(StrEnum):
    """Where the lane machine knows its barrier to be: the last end position (or fault)
    reported to it. The driver's ``drivers.interfaces.Position`` is what the device
    reports, moving and unknown included."""

    UP = "up"
    DOWN = "down"
    FAULT = "fault"


class Command(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Payment:
    """The payment asked of one vehicle: its current key and how often it was asked."""

    key: str
    amount: int
    currency: str
    method: PaymentMethod
    account: str | None
    attempt: int  # the n of the key "{txn_id}:{n}"; grows after a decline
    tries: int  # requests sent under every key


@dataclass(frozen=True)
class Passage:
    """One vehicle, from the arming loop until it passes or leaves."""

    txn: Txn
    phase: Phase
    arrived_at: datetime
    on_safety: bool = False  # seen reaching the safety loop while still on the arming loop
    payment: Payment | None = None

    @property
    def authorised(self) -> bool:
        return self.phase in AUTHORISED_PHASES


@dataclass(frozen=True)
class Grant:
    """An operator's open with no vehicle present: it admits the next vehicle."""

    operator_id: str
    reason: str


@dataclass(frozen=True)
class LaneState:
    lane_id: str
    kind: LaneKind
    policy: LanePolicy
    nonce: bytes
    mode: Mode = Mode.NORMAL
    arming: bool = False
    safety: bool = False
    barrier: KnownPosition = KnownPosition.DOWN
    command: Command = Command.CLOSED
    opened_since_down: bool = False  # an open was sent after the last down report
    reclose: bool = False  # the barrier rose by itself: close it again when safe
    passage: Passage | None = None
    leaving: tuple[
        Passage, ...
    ] = ()  # authorised vehicles on the safety loop, past the arming loop
    grant: Grant | None = None
    outstanding: tuple[Passage, ...] = ()  # vehicles gone with a payment still unanswered
    timers: tuple[tuple[Timer, int], ...] = ()
    counter: int = 0

    @classmethod
    def initial(
        cls,
        lane_id: str,
        kind: LaneKind,
        policy: LanePolicy,
        nonce: bytes,
        *,
        barrier: KnownPosition = KnownPosition.DOWN,
    ) -> LaneState:
        """A lane at start in normal mode, loops clear.

        The shell then feeds the loops' actual state as events, and re-applies a
        saved mode with :class:`~edge.lane.events.SetMode`. A barrier found up is
        closed at the first step that finds the safety loop clear.
        """
        if len(nonce) < MIN_NONCE_BYTES:
            raise LaneInputError(
                f"LaneState.nonce: needs at least {MIN_NONCE_BYTES} random bytes, got {len(nonce)}"
            )
        return cls(
            lane_id=lane_id,
            kind=kind,
            policy=policy,
            nonce=nonce,
            barrier=barrier,
            command=Command.OPEN if barrier is KnownPosition.UP else Command.CLOSED,
        )

    def timer_token(self, timer: Timer) -> int | None:
        return next((token for name, token in self.timers if name is timer), None)
