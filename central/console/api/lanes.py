"""``GET /api/lanes``: the lane registry central keeps from the lanes' state and telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from central.console.access import Caller, access, console_of
from central.storage.schema import lanes
from central.storage.times import utc_out

router = APIRouter(prefix="/api", tags=["lanes"])


class LaneOut(BaseModel):
    lane_id: str
    plaza_id: str
    online: bool
    online_changed_at: datetime
    last_seen: datetime | None
    mode: str | None
    barrier: str | None
    software_version: str | None
    config_version: int | None
    tariffs: dict[str, int]
    backlog_txn: int
    backlog_event: int


@router.get("/lanes")
def list_lanes(_caller: Annotated[Caller, access("lanes.view")], request: Request) -> list[LaneOut]:
    """Every lane central has heard of, by plaza and lane id."""
    columns = [lanes.c[name] for name in LaneOut.model_fields]
    with console_of(request).engine.connect() as connection:
        rows = connection.execute(
            select(*columns).order_by(lanes.c.plaza_id, lanes.c.lane_id)
        ).mappings()
        return [
            LaneOut(
                **{
                    **row,
                    "online_changed_at": utc_out(row["online_changed_at"]),
                    "last_seen": None if row["last_seen"] is None else utc_out(row["last_seen"]),
                }
            )
            for row in rows
        ]
