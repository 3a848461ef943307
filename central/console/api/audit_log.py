"""``GET /api/audit``: the audit log, newest first, for auditors and administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from central.console import audit
from central.console.access import Caller, access, console_of
from central.console.text import ONE_LINE
from central.storage.schema import USER_NAME

router = APIRouter(prefix="/api", tags=["audit"])
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


class AuditSearch(BaseModel):
    """Filters of the audit log; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=ONE_LINE,
        description="Exactly this target (alarm:42).",
    )
    actor: str | None = Field(
        None, min_length=1, max_length=USER_NAME, pattern=ONE_LINE, description="By whom."
    )
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="Entries in the page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Entries skipped.")


@router.get("/audit")
def audit_entries(
    _caller: Annotated[Caller, access("audit.view")],
    request: Request,
    search: Annotated[AuditSearch, Query()],
) -> list[AuditOut]:
    """Audit entries matching the filters given, newest first."""
    with console_of(request).engine.connect() as connection:
        found = audit.entries(
            connection,
            target=search.target,
            actor=search.actor,
            limit=search.limit,
            offset=search.offset,
        )
    return [AuditOut.model_validate(entry, from_attributes=True) for entry in found]
