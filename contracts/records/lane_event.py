"""Something that happened on a lane (a :class:`LaneEvent`), before sealing."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from contracts.ids import Identifier, LaneId, RecordId, Token
from contracts.records.model import RecordModel
from contracts.records.vocab import DetailValue, Severity
from contracts.time import UtcTime
from contracts.uuid7 import uuid7


class LaneEvent(RecordModel):
    """Something that happened on a lane (an alarm, a mode change), before sealing."""

    what: ClassVar[str] = "lane event"

    id: RecordId = Field(default_factory=uuid7, description="UUIDv7, made by the lane.")
    lane_id: LaneId = Field(description="The lane it happened on.")
    time: UtcTime = Field(description="When it happened (UTC).")
    kind: Identifier = Field(description="What happened, e.g. tailgate, loop_stuck, mode_changed.")
    severity: Severity = Field(description="info, warning or alarm.")
    txn_id: UUID | None = Field(None, description="The transaction it concerns, if any.")
    operator_id: Token | None = Field(None, description="Operator who caused it, if any.")
    detail: dict[Identifier, DetailValue] = Field(
        default_factory=dict, description="Further facts, flat."
    )
