"""What the lane machine writes down: the transaction record and its vocabulary.

A :class:`Txn` is ARCHITECTURE.md's transaction record as the lane machine
decides it; the store adds only ``lane_seq`` and the hash chain. Facts the
shell learns reach the record through events: the evidence image ids of the
images :class:`~edge.lane.actions.Capture` produced (``PlateRead``,
``EvidenceKept``), the method that settled the payment (``PaymentResult``).
Every decision appends a new version of the record
(:class:`~edge.lane.actions.RecordTransaction`); the last version is the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from contracts.records.vocab import (
    FINAL_STATUSES,
    Authorisation,
    Listing,
    PaymentMethod,
    PaymentStatus,
    TxnKind,
    TxnStatus,
)
from edge.fees.passage import Fee, FeeLine
from edge.lane.policy import LaneKind

__all__ = [
    "FINAL_STATUSES",
    "Authorisation",
    "Fee",
    "FeeLine",
    "Flag",
    "LaneInputError",
    "Listing",
    "OpenEntry",
    "PaymentMethod",
    "PaymentStatus",
    "Txn",
    "TxnKind",
    "TxnStatus",
    "check_quote",
    "require_utc",
    "txn_kind_for",
]


class LaneInputError(ValueError):
    """An event or a value handed to the lane machine is malformed."""


def require_utc(where: str, value: datetime) -> datetime:
    """``value`` in :data:`datetime.UTC` when it is an aware UTC time, else raise naming ``where``."""
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise LaneInputError(f"{where}: must be an aware UTC datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def txn_kind_for(lane: LaneKind) -> TxnKind:
    """The kind of transaction a lane of this kind records."""
    if lane in (LaneKind.PARKING_ENTRY, LaneKind.HIGHWAY_ENTRY):
        return TxnKind.ENTRY
    if lane in (LaneKind.PARKING_EXIT, LaneKind.HIGHWAY_EXIT):
        return TxnKind.EXIT
    return TxnKind.PASSAGE


class Flag(StrEnum):
    """Reasons a record is marked for review."""

    UNREADABLE_PLATE = "unreadable_plate"
    BLACKLISTED = "blacklisted"
    ANTI_PASSBACK = "anti_passback"
    UNMATCHED_EXIT = "unmatched_exit"
    TAILGATE = "tailgate"
    BARRIER_FORCED = "barrier_forced"
    BARRIER_FAULT = "barrier_fault"
    FAIL_OPEN = "fail_open"
    FREE_PASSAGE = "free_passage"
    LATE_PAYMENT = "late_payment"
    REFUND_REVIEW = "refund_review"
    REFUND_DUE = "refund_due"  # paid for an order the lane had closed: refunded, never a credit
    PAYMENT_MISMATCH = "payment_mismatch"
    PLATE_TYPED = "plate_typed"  # the plate was typed (by the driver or an operator), not read
    PASSAGE_ASSUMED = "passage_assumed"  # a restart recorded it passed, the loops clear: not seen
    PASSAGE_CORRECTED = "passage_corrected"  # takes the entry and payment of an assumed passage
    POSTPAY = "postpay"  # let through by the post-pay rule, to be billed by plate: nothing taken
    INTERRUPTED = "interrupted"  # left open by the last run, settled by a start or a shutdown
    PAYMENT_UNRESOLVED = "payment_unresolved"  # a start could not bring its payment to its end
    # A highway exit asked central for the entry and got no answer in time: priced by the
    # tariff's rule for a missing entry, though an entry may exist (review the charge).
    ENTRY_LOOKUP_UNANSWERED = "entry_lookup_unanswered"


class CentralLookup(StrEnum):
    """What central said when an exit with no entry of its own asked it for the plate's."""

    FOUND = "found"  # central's entry is the open entry of the answer
    NONE = "none"  # central holds no open entry of the plate
    UNANSWERED = "unanswered"  # no answer in time, or no broker


def check_quote(quote: Fee) -> None:
    """Refuse a fee that does not add up; the shell may have adjusted the engine's."""
    if quote.total < 0:
        raise LaneInputError(f"VehicleChecked.quote.total: must not be negative, got {quote.total}")
    if sum(item.amount for item in quote.items) != quote.total:
        raise LaneInputError(
            f"VehicleChecked.quote.items: amounts add up to "
            f"{sum(i.amount for i in quote.items)}, not to the total {quote.total}"
        )
    if len(quote.currency) != 3 or not quote.currency.isupper():
        raise LaneInputError(
            f"VehicleChecked.quote.currency: expected an ISO 4217 code, got {quote.currency!r}"
        )


@dataclass(frozen=True)
class OpenEntry:
    """An entry without an exit yet, found by plate in the shell's store."""

    txn_id: UUID
    at: datetime
    plaza_id: str
    lane_id: str

    def __post_init__(self) -> None:
        require_utc("OpenEntry.at", self.at)


@dataclass(frozen=True)
class Txn:
    """One vehicle's transaction as the lane machine records it.

    Its fields carry the names of the record's (``contracts.records.transaction.
    Transaction``), which the shell builds from it field for field; the record adds
    what only the shell knows (when it was recorded, the seal).
    """

    id: UUID
    lane_id: str
    kind: TxnKind
    status: TxnStatus = TxnStatus.ARRIVED
    authorisation: Authorisation | None = None
    plate_text: str | None = None
    plate_confidence: float | None = None
    vehicle_class: int | None = None
    listing: Listing | None = None
    entry_time: datetime | None = None
    exit_time: datetime | None = None
    entry_plaza: str | None = None
    entry_txn_id: UUID | None = None
    tariff_id: str | None = None
    tariff_version: int | None = None
    fee_items: tuple[FeeLine, ...] = ()
    fee_total: int | None = None
    currency: str | None = None
    payment_method: PaymentMethod | None = None
    payment_status: PaymentStatus = PaymentStatus.NONE
    gateway_ref: str | None = None
    operator_id: str | None = None
    operator_reason: str | None = None
    evidence_image_ids: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = field(default=())

    def flagged(self, *flags: Flag) -> tuple[Flag, ...]:
        """This record's flags with ``flags`` added, sorted and without repeats."""
        return tuple(sorted(set(self.flags) | set(flags)))
