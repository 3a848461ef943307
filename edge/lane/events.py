"""Everything that can happen to a lane, as the shell hands it to :func:`edge.lane.step`.

Events are frozen and validated on construction: a malformed event raises
:class:`~edge.lane.records.LaneInputError` naming the event and field, so a bad
input never reaches the machine. Events that answer an action carry the id of
the transaction (and, for payments, the idempotency key) they answer; an answer
that no longer matches what the machine waits for is ignored, which makes late,
duplicated and retried answers harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from edge.lane.policy import UnreadCause
from edge.lane.records import (
    CentralLookup,
    Fee,
    LaneInputError,
    Listing,
    OpenEntry,
    PaymentMethod,
    PaymentStatus,
    Txn,
    check_quote,
)


class Mode(StrEnum):
    NORMAL = "normal"
    CLOSED = "closed"  # no new vehicles are served; vehicles already authorised finish
    FREE_PASSAGE = "free_passage"  # barrier up, every vehicle recorded, nobody charged
    MAINTENANCE = "maintenance"  # no vehicles served; barrier moves are the technician's


class Timer(StrEnum):
    PLATE = "plate"  # waiting for the plate of the current vehicle
    PAYMENT = "payment"  # waiting for the payment of the current vehicle
    GRANT = "grant"  # an operator opened with no vehicle present: wait for one
    HELP = "help"  # a vehicle whose plate was not read waits for a typed plate or an operator
    ARMING_STUCK = "arming_stuck"
    SAFETY_STUCK = "safety_stuck"


class PaymentOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"  # a definite no: a new attempt gets a new idempotency key
    ERROR = "error"  # no answer or unknown outcome: a retry reuses the same key
    POSTPAY = "postpay"  # let through by the lane's post-pay rule, billed by plate: nothing taken


def _text(where: str, value: str) -> None:
    if not value.strip():
        raise LaneInputError(f"{where}: must not be empty")


@dataclass(frozen=True)
class ArmingLoop:
    """The arming loop (in front of the barrier) became occupied or clear."""

    occupied: bool


@dataclass(frozen=True)
class SafetyLoop:
    """The safety loop (under and after the barrier) became occupied or clear."""

    occupied: bool


def _images(where: str, ids: tuple[str, ...]) -> None:
    for image_id in ids:
        _text(where, image_id)


@dataclass(frozen=True)
class PlateRead:
    """The reader's plate for the vehicle captured under ``txn_id``.

    ``evidence``: the ids of the images kept of the read (frame, plate crop), for the record.
    """

    txn_id: UUID
    text: str
    confidence: float
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _text("PlateRead.text", self.text)
        if not 0.0 <= self.confidence <= 1.0:
            raise LaneInputError(
                f"PlateRead.confidence: must be within 0..1, got {self.confidence}"
            )
        _images("PlateRead.evidence", self.evidence)


@dataclass(frozen=True)
class PlateUnreadable:
    """The reader found no plate it trusts for the vehicle captured under ``txn_id``.

    ``cause``: the fault that kept the plate from being read, when part of the
    lane is degraded (camera dark, reader failing): the lane's outcome for that
    fault applies (:attr:`~edge.lane.policy.LanePolicy.degraded_reads`) instead
    of its ``unreadable_plate`` rule.
    """

    txn_id: UUID
    cause: UnreadCause | None = None


@dataclass(frozen=True)
class EvidenceKept:
    """Images kept of the vehicle under ``txn_id`` after its plate was given up on.

    The reader's last frame is saved once the machine stopped waiting for the
    plate; its ids go on the versions of the record written from now on.
    """

    txn_id: UUID
    images: tuple[str, ...]

    def __post_init__(self) -> None:
        _images("EvidenceKept.images", self.images)


@dataclass(frozen=True)
class Correction:
    """A passage a restart assumed passed, that this vehicle's return shows had not happened.

    ``txn_id`` is the assumed passage (:mod:`edge.lane.assumed`), ``plate`` the
    plate it recorded; ``same_plate`` False when the plate read now only differs
    from it in confusable characters (the lane cannot be sure it is the same vehicle).
    """

    txn_id: UUID
    plate: str
    same_plate: bool = True


@dataclass(frozen=True)
class VehicleChecked:
    """The shell's answer to :class:`~edge.lane.actions.LookUpVehicle`.

    - ``listing``: the plate's entry in the lists (permit, whitelist, blacklist,
      prepaid account) or ``NONE``.
    - ``open_entry``: on an entry lane, the plate's entry that has no exit yet
      (anti-passback); on an exit lane, the entry this exit closes. ``None``
      when there is none. Ignored on an open plaza.
    - ``quote``: on a lane where vehicles pay, the fee for this passage at the
      lookup's time: from the entry record, or the unmatched-exit fee (lost
      ticket, maximum-distance fare) when ``open_entry`` is ``None``. Ignored on
      entry lanes. A charging lane answered without a quote counts as a failed lookup.
    - ``vehicle_class``: the class the shell determined, when it knows one.
    - ``account``: the prepaid account to debit when ``listing`` is ``PREPAID``
      (the plate is used when absent).
    - ``correction``: on an exit lane, the assumed passage this vehicle's return
      corrects; ``open_entry`` is then that passage's entry and ``quote`` deducts
      what it was worth (:mod:`edge.lane.assumed`).
    - ``central``: on a highway exit that found no entry of its own and asked
      central, what central said (``None``: not asked). ``FOUND`` comes with
      central's entry as ``open_entry``; ``UNANSWERED`` with no entry has the exit
      flagged ``entry_lookup_unanswered`` beside ``unmatched_exit``.
    """

    txn_id: UUID
    listing: Listing = Listing.NONE
    open_entry: OpenEntry | None = None
    quote: Fee | None = None
    vehicle_class: int | None = None
    account: str | None = None
    correction: Correction | None = None
    central: CentralLookup | None = None

    def __post_init__(self) -> None:
        if self.central is CentralLookup.FOUND and self.open_entry is None:
            raise LaneInputError("VehicleChecked.central: found, but open_entry is None")
        if self.correction is not None and self.correction.txn_id == self.txn_id:
            raise LaneInputError(
                f"VehicleChecked.correction: passage {self.txn_id} cannot correct itself"
            )
        if self.vehicle_class is not None and self.vehicle_class < 0:
            raise LaneInputError(
                f"VehicleChecked.vehicle_class: must not be negative, got {self.vehicle_class}"
            )
        if self.quote is not None:
            check_quote(self.quote)


@dataclass(frozen=True)
class LookupFailed:
    """The shell could not answer a lookup (store unreadable, tariff missing...)."""

    txn_id: UUID
    reason: str


@dataclass(frozen=True)
class PaymentResult:
    """The terminal's or gateway's answer to one :class:`~edge.lane.actions.RequestPayment`.

    ``method``: how an approved payment was settled, when the chain knows better
    than the request (a prepaid account debited for a plate not listed as prepaid).
    """

    txn_id: UUID
    key: str
    outcome: PaymentOutcome
    amount: int = 0
    gateway_ref: str | None = None
    reason: str = ""
    method: PaymentMethod | None = None

    def __post_init__(self) -> None:
        _text("PaymentResult.key", self.key)
        if self.amount < 0:
            raise LaneInputError(f"PaymentResult.amount: must not be negative, got {self.amount}")


@dataclass(frozen=True)
class BarrierUp:
    """The barrier reports its up limit."""


@dataclass(frozen=True)
class BarrierDown:
    """The barrier reports its down limit."""


@dataclass(frozen=True)
class BarrierFault:
    """The barrier reports a fault (arm broken, no answer, motor fault...)."""

    reason: str


@dataclass(frozen=True)
class OperatorOpen:
    """An operator opens the barrier for one vehicle (or holds it open in maintenance)."""

    operator_id: str
    reason: str

    def __post_init__(self) -> None:
        _text("OperatorOpen.operator_id", self.operator_id)
        _text("OperatorOpen.reason", self.reason)


@dataclass(frozen=True)
class OperatorClose:
    """An operator withdraws every standing authorisation; the barrier closes when safe."""

    operator_id: str
    reason: str

    def __post_init__(self) -> None:
        _text("OperatorClose.operator_id", self.operator_id)
        _text("OperatorClose.reason", self.reason)


@dataclass(frozen=True)
class SetMode:
    """An operator switches the lane's mode."""

    mode: Mode
    operator_id: str
    reason: str

    def __post_init__(self) -> None:
        _text("SetMode.operator_id", self.operator_id)
        _text("SetMode.reason", self.reason)


@dataclass(frozen=True)
class PlateTyped:
    """A plate typed for the vehicle under ``txn_id`` whose plate was not read.

    The driver typed it (pay by plate, through the gateway's page: no
    ``operator_id``) or an operator did (``operator_id`` and ``reason``, recorded).
    """

    txn_id: UUID
    plate: str
    operator_id: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        _text("PlateTyped.plate", self.plate)
        if self.operator_id is not None:
            _text("PlateTyped.operator_id", self.operator_id)
            _text("PlateTyped.reason", self.reason)


@dataclass(frozen=True)
class HelpPressed:
    """The driver pressed the lane's help button."""


@dataclass(frozen=True)
class TurnAway:
    """An operator refuses the vehicle in front of the barrier; the driver is asked to reverse."""

    operator_id: str
    reason: str

    def __post_init__(self) -> None:
        _text("TurnAway.operator_id", self.operator_id)
        _text("TurnAway.reason", self.reason)


@dataclass(frozen=True)
class TimerExpired:
    """A timer started by :class:`~edge.lane.actions.StartTimer` ran out."""

    timer: Timer
    token: int


@dataclass(frozen=True)
class Restarted:
    """The lane starts: the loops as found, and the passages the last run left open.

    ``open`` holds the latest recorded version of every interrupted transaction,
    each payment already brought to its final state by the shell (none still
    ``requested``). It is the first event after :meth:`LaneState.initial
    <edge.lane.state.LaneState.initial>`; the machine settles the passages by the
    rules of :mod:`edge.lane.restart`.
    """

    open: tuple[Txn, ...] = ()
    arming: bool = False
    safety: bool = False

    def __post_init__(self) -> None:
        ids = [txn.id for txn in self.open]
        if len(set(ids)) != len(ids):
            raise LaneInputError("Restarted.open: a transaction is given twice")
        for txn in self.open:
            if txn.payment_status is PaymentStatus.REQUESTED:
                raise LaneInputError(
                    f"Restarted.open: transaction {txn.id} still has its payment requested; "
                    "resolve it first"
                )
            if txn.exit_time is None and txn.entry_time is None:
                raise LaneInputError(f"Restarted.open: transaction {txn.id} has no arrival time")


@dataclass(frozen=True)
class Stopping:
    """The lane stops: the passages still open once it no longer serves, settled by the rule.

    ``open`` as for :class:`Restarted` (each payment already brought to its final
    state); nothing stays authorised: each is settled by
    :func:`edge.lane.restart.settled`, passed only when authorised and the arming
    loop is clear (``arming`` False). The last event a machine takes.
    """

    open: tuple[Txn, ...] = ()
    arming: bool = False

    def __post_init__(self) -> None:
        Restarted(self.open)  # the same checks of the passages handed over


Event = (
    Restarted
    | Stopping
    | ArmingLoop
    | SafetyLoop
    | PlateRead
    | PlateUnreadable
    | EvidenceKept
    | PlateTyped
    | VehicleChecked
    | LookupFailed
    | PaymentResult
    | BarrierUp
    | BarrierDown
    | BarrierFault
    | OperatorOpen
    | OperatorClose
    | SetMode
    | TurnAway
    | HelpPressed
    | TimerExpired
)
