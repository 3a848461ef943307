"""``GET /api/transactions``: search by plate (partial), time range and lane, a page at a time.

Every value reaches the database as a bound parameter; the plate's ``%`` and ``_``
are escaped, so they match themselves, not any text. Newest first; a page has at
most :data:`MAX_LIMIT` rows, and ``next_offset`` says where the next one starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from central.console.access import Caller, access, console_of
from central.console.text import ONE_LINE
from central.storage.schema import transactions
from central.storage.times import utc_in, utc_out
from contracts.ids import SITE_ID_PATTERN

router = APIRouter(prefix="/api", tags=["transactions"])
MAX_LIMIT = 200
MAX_OFFSET = 100_000
PLATE = 20


class TransactionOut(BaseModel):
    lane_id: str
    lane_seq: int
    plaza_id: str
    txn_id: UUID
    kind: str
    status: str
    recorded_at: datetime
    plate_text: str | None
    vehicle_class: int | None
    currency: str | None
    fee_total: int | None
    payment_method: str | None
    payment_status: str


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_offset: int | None


class TransactionSearch(BaseModel):
    """The filters of a search; unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    plate: str | None = Field(
        None,
        min_length=1,
        max_length=PLATE,
        pattern=ONE_LINE,
        description="Part of the plate (any case).",
    )
    since: AwareDatetime | None = Field(None, description="Recorded at or after.")
    until: AwareDatetime | None = Field(None, description="Recorded before.")
    lane: str | None = Field(None, pattern=SITE_ID_PATTERN, description="One lane's only.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="Rows in the page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows skipped.")


@router.get("/transactions")
def search_transactions(
    _caller: Annotated[Caller, access("transactions.view")],
    request: Request,
    search: Annotated[TransactionSearch, Query()],
) -> TransactionPage:
    """Transactions matching every filter given, newest first."""
    columns = [transactions.c[name] for name in TransactionOut.model_fields]
    query = select(*columns)
    if search.plate is not None:
        plate = search.plate.upper()
        query = query.where(transactions.c.plate_text.contains(plate, autoescape=True))
    if search.since is not None:
        query = query.where(transactions.c.recorded_at >= utc_in(search.since, "since"))
    if search.until is not None:
        query = query.where(transactions.c.recorded_at < utc_in(search.until, "until"))
    if search.lane is not None:
        query = query.where(transactions.c.lane_id == search.lane)
    query = (
        query.order_by(
            transactions.c.recorded_at.desc(),
            transactions.c.lane_id,
            transactions.c.lane_seq.desc(),
        )
        .limit(search.limit + 1)
        .offset(search.offset)
    )
    with console_of(request).engine.connect() as connection:
        rows = list(connection.execute(query).mappings())
    items = [
        TransactionOut(**{**row, "recorded_at": utc_out(row["recorded_at"])})
        for row in rows[: search.limit]
    ]
    return TransactionPage(
        items=items, next_offset=search.offset + search.limit if len(rows) > search.limit else None
    )
