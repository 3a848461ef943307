"""What a lane decided about one vehicle (a :class:`Transaction`), before sealing."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contracts.ids import Identifier, LaneId, RecordId, TariffId, Token
from contracts.records.model import RecordModel
from contracts.records.vocab import (
    Authorisation,
    Listing,
    PaymentMethod,
    PaymentStatus,
    TxnKind,
    TxnStatus,
)
from contracts.time import UtcTime
from contracts.uuid7 import uuid7


def _sorted_unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


class FeeItem(BaseModel):
    """One line of an itemised fee."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(min_length=1, max_length=80, description="What the amount is for.")
    amount: int = Field(description="Minor units; negative for a discount.")


class Transaction(RecordModel):
    """What a lane decided about one vehicle, before the store seals it.

    A transaction is recorded again at every decision (arrived, priced, paid,
    passed); each version is its own record with the same ``id`` and its own
    ``lane_seq``, and the latest version is the truth.
    """

    what: ClassVar[str] = "transaction record"

    id: RecordId = Field(default_factory=uuid7, description="UUIDv7 of the transaction.")
    lane_id: LaneId = Field(description="The lane that recorded it.")
    kind: TxnKind = Field(description="entry, exit or passage (open plaza).")
    status: TxnStatus = Field(description="Where the passage stands.")
    authorisation: Authorisation | None = Field(None, description="Why the barrier may open.")
    recorded_at: UtcTime = Field(description="When the lane decided this version (UTC).")
    plate_text: str | None = Field(
        None, min_length=1, max_length=20, description="Plate as read; null when unreadable."
    )
    plate_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Recogniser confidence of plate_text, 0..1."
    )
    vehicle_class: int | None = Field(None, ge=1, le=99, description="Tariff vehicle class.")
    listing: Listing | None = Field(None, description="How the lists know the plate.")
    entry_time: UtcTime | None = Field(None, description="Entry time (UTC), when known.")
    exit_time: UtcTime | None = Field(None, description="Exit or passage time (UTC).")
    entry_plaza: LaneId | None = Field(None, description="Plaza of entry (closed highway).")
    entry_txn_id: UUID | None = Field(None, description="The entry transaction an exit matched.")
    tariff_id: TariffId | None = Field(None, description="Tariff that priced it.")
    tariff_version: int | None = Field(None, ge=1, description="Version of that tariff.")
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the amounts."
    )
    fee_items: tuple[FeeItem, ...] = Field((), description="Itemised fee.")
    fee_total: int | None = Field(
        None, description="Sum of fee_items in minor units; null until priced."
    )
    payment_method: PaymentMethod | None = Field(None, description="How it is paid.")
    payment_status: PaymentStatus = Field(PaymentStatus.NONE, description="Outcome of the payment.")
    gateway_ref: Token | None = Field(None, description="Payment gateway's reference.")
    evidence_image_ids: tuple[Token, ...] = Field((), description="Images kept as evidence.")
    operator_id: Token | None = Field(None, description="Operator of a manual action.")
    operator_reason: str | None = Field(
        None, min_length=1, max_length=500, description="Why the operator acted."
    )
    references: UUID | None = Field(
        None, description="Id of the original transaction, for a refund or correction."
    )
    flags: Annotated[tuple[Identifier, ...], AfterValidator(_sorted_unique)] = Field(
        (), description="Reasons for review, such as tailgate or unreadable_plate; sorted."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.fee_total is None:
            if self.fee_items:
                raise ValueError("fee_total: required when fee_items are given")
        else:
            items_sum = sum(item.amount for item in self.fee_items)
            if self.fee_total != items_sum:
                raise ValueError(
                    f"fee_total: must equal the sum of fee_items ({items_sum}), "
                    f"got {self.fee_total}"
                )
            if self.currency is None:
                raise ValueError("currency: required when fee_total is given")
            if self.fee_total < 0 and self.references is None:
                raise ValueError("fee_total: negative only for a refund (which sets references)")
        if (self.tariff_id is None) != (self.tariff_version is None):
            raise ValueError("tariff_version: tariff_id and tariff_version go together")
        if self.plate_confidence is not None and not self._has_plate():
            raise ValueError("plate_confidence: given without plate_text")
        if self.operator_reason is not None and self.operator_id is None:
            raise ValueError("operator_reason: given without operator_id")
        if self.entry_time and self.exit_time and self.exit_time < self.entry_time:
            raise ValueError("exit_time: earlier than entry_time")
        return self

    def _has_plate(self) -> bool:
        """Whether a plate was read (its text may since have been pseudonymised)."""
        return self.plate_text is not None
