"""Operator commands to one lane, and their results: the one schema every carrier uses.

A command is a JSON object whose ``type`` names it; every command carries a
``command_id`` (the result echoes it), the ``operator_id`` of the person who
issued it, a ``reason``, and ``issued_at`` / ``expires_at`` (aware times): a
command that arrives after its expiry is refused, so a command delayed in a
queue never moves a barrier minutes later. The local control socket
(``lanewarden edge ctl``) carries these objects one per line; MQTT carries the
same objects on ``{plaza}/{lane}/cmd`` and ``.../cmd/result``.

Commands that change the lane need a reason (it is recorded with the operator
id before the lane acts); ``status`` only reads and needs none.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSION = 1
DEFAULT_LIFETIME = timedelta(seconds=60)

Mode = Literal["normal", "closed", "free_passage", "maintenance"]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        title="Command id",
        description="Unique per command; the result echoes it and a repeat is recognisable.",
    )
    operator_id: str = Field(
        min_length=1,
        max_length=64,
        title="Operator id",
        description="Who issued the command; recorded with every change it makes.",
    )
    reason: str = Field(
        min_length=1,
        max_length=300,
        title="Reason",
        description="Why; recorded with the operator id before the lane acts.",
    )
    issued_at: AwareDatetime = Field(title="Issued at", description="When the operator issued it.")
    expires_at: AwareDatetime = Field(
        title="Expires at", description="After this the lane refuses it, unexecuted."
    )


class StatusCommand(_Command):
    """Report the lane's mode, barrier, loops and the vehicle being served."""

    type: Literal["status"] = "status"
    reason: str = Field("", max_length=300, title="Reason", description="Optional for status.")


class OpenCommand(_Command):
    """Open the barrier for the vehicle in front of it (or the next one to come)."""

    type: Literal["open"] = "open"


class CloseCommand(_Command):
    """Withdraw every standing authorisation; the barrier closes once the safety loop is clear."""

    type: Literal["close"] = "close"


class SetModeCommand(_Command):
    """Switch the lane's mode: normal, closed, free_passage or maintenance."""

    type: Literal["set_mode"] = "set_mode"
    mode: Mode = Field(title="Mode", description="normal, closed, free_passage or maintenance.")


class ChargePlateCommand(_Command):
    """Charge the vehicle in front of the barrier whose plate was not read, by a typed plate.

    The lane looks up its entry by this plate (confusable-aware) and charges as
    for a read plate.
    """

    type: Literal["charge_plate"] = "charge_plate"
    plate: str = Field(
        min_length=2, max_length=16, title="Plate", description="The plate as the operator read it."
    )


class TurnAwayCommand(_Command):
    """Refuse the vehicle in front of the barrier: the display asks the driver to reverse."""

    type: Literal["turn_away"] = "turn_away"


class ResendCommand(_Command):
    """Publish a stream's records again from ``from_seq`` (central asks when it sees a gap)."""

    type: Literal["resend"] = "resend"
    stream: Literal["txn", "event"] = Field(title="Stream", description="txn or event.")
    from_seq: int = Field(ge=1, title="From", description="The first lane_seq to send again.")


Command = Annotated[
    StatusCommand
    | OpenCommand
    | CloseCommand
    | SetModeCommand
    | ChargePlateCommand
    | TurnAwayCommand
    | ResendCommand,
    Field(discriminator="type"),
]
COMMAND_TYPES = ("status", "open", "close", "set_mode", "charge_plate", "turn_away", "resend")

_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


class CommandError(ValueError):
    """A command that cannot be taken: not JSON, unknown type, a missing field, expired."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


class CommandResult(BaseModel):
    """The lane's answer to one command; ``error`` names what was wrong when ``ok`` is false."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str | None = Field(
        title="Command id", description="The command answered; null when it could not be read."
    )
    ok: bool = Field(title="OK", description="The command was taken and carried out.")
    error: str | None = Field(None, title="Error", description="What was wrong, when not ok.")
    lane: dict[str, Any] = Field(
        default_factory=dict,
        title="Lane",
        description="The lane's status after the command (mode, barrier, loops, vehicle).",
    )

    def to_line(self) -> bytes:
        return self.model_dump_json().encode() + b"\n"


def new_command(
    kind: str,
    *,
    operator_id: str,
    reason: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
    **fields: Any,
) -> Command:
    """A command of ``kind`` issued at ``now`` with a fresh id; CommandError when invalid."""
    body = {
        "type": kind,
        "command_id": uuid4().hex,
        "operator_id": operator_id,
        "reason": reason,
        "issued_at": now.isoformat(),
        "expires_at": (now + lifetime).isoformat(),
        **fields,
    }
    return _validated(body)


def parse_command(raw: bytes | str, now: datetime) -> Command:
    """The command in one JSON line, checked and not expired at ``now``; else CommandError."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"not a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError("not a JSON object")
    command_id = data.get("command_id") if isinstance(data.get("command_id"), str) else None
    command = _validated(data, command_id)
    if command.expires_at <= now:
        raise CommandError(
            f"expires_at: the command expired at {command.expires_at.isoformat()}", command_id
        )
    if command.expires_at <= command.issued_at:
        raise CommandError("expires_at: must be after issued_at", command_id)
    return command


def _validated(data: dict[str, Any], command_id: str | None = None) -> Command:
    kind = data.get("type")
    if kind not in COMMAND_TYPES:
        raise CommandError(
            f"type: expected one of {', '.join(COMMAND_TYPES)}, got {kind!r}", command_id
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:]) or 'command'}: {error['msg']}"
            for error in exc.errors()
        )
        raise CommandError(problems, command_id) from None
