"""``GET /api/alarms`` and ``POST /api/alarms/{id}/acknowledge`` (a note required, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from central.console import audit
from central.console.access import Caller, access, console_of
from central.console.text import LINES
from central.storage import AlarmError
from central.storage.alarms import Alarm, AlarmState, change_alarm
from central.storage.schema import alarms
from contracts.ids import SITE_ID_PATTERN

router = APIRouter(prefix="/api", tags=["alarms"])
MAX_ALARMS = 500
MAX_NOTE = 2000
MAX_ID = 2**31 - 1


class AlarmOut(BaseModel):
    id: int
    kind: str
    plaza_id: str | None
    lane_id: str | None
    subject: str
    severity: str
    state: AlarmState
    opened_at: datetime
    changed_at: datetime
    changed_by: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmOut:
        return cls.model_validate(alarm, from_attributes=True)


class Acknowledgement(BaseModel):
    note: str = Field(
        max_length=MAX_NOTE, pattern=LINES, description="Why, or what was done; required."
    )

    @field_validator("note")
    @classmethod
    def _said_something(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a note is required")
        return value


@router.get("/alarms")
def list_alarms(
    _caller: Annotated[Caller, access("alarms.view")],
    request: Request,
    state: AlarmState | None = None,
    lane: Annotated[str | None, Query(pattern=SITE_ID_PATTERN)] = None,
) -> list[AlarmOut]:
    """Alarms, newest first, of one state and one lane when given."""
    query = select(alarms).order_by(alarms.c.id.desc()).limit(MAX_ALARMS)
    if state is not None:
        query = query.where(alarms.c.state == state)
    if lane is not None:
        query = query.where(alarms.c.lane_id == lane)
    with console_of(request).engine.connect() as connection:
        return [AlarmOut.of(Alarm.from_row(row)) for row in connection.execute(query).mappings()]


@router.post(
    "/alarms/{alarm_id}/acknowledge",
    responses={404: {"description": "No such alarm"}, 409: {"description": "Not open"}},
)
def acknowledge_alarm(
    caller: Annotated[Caller, access("alarms.acknowledge")],
    request: Request,
    alarm_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: Acknowledgement,
) -> AlarmOut:
    """Acknowledge an open alarm; the note is the audit log's reason."""
    console = console_of(request)
    now = console.clock()
    with console.writer.begin() as connection:
        state = connection.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar()
        if state is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"alarm {alarm_id}: no such alarm")
        try:
            changed = change_alarm(connection, alarm_id, "acknowledged", caller.user.name, now)
        except AlarmError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        audit.append(
            connection,
            at=now,
            actor=caller.user.name,
            action="alarm.acknowledge",
            target=f"alarm:{alarm_id}",
            before={"state": state},
            after={"state": changed.state},
            reason=body.note,
        )
    return AlarmOut.of(changed)
