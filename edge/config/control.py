"""The lane's local control socket, through which ``lanewarden edge ctl`` sends operator commands."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from contracts.schema import ConfigModel

SOCKET_NAME = "ctl-{lane_id}.sock"


class ControlConfig(ConfigModel):
    """Where the lane listens for operator commands (one JSON object a line, :mod:`contracts.commands`)."""

    socket: str | None = Field(
        None,
        title="Socket path",
        description="Path of the Unix socket; absent: ctl-<lane id>.sock beside the store "
        "(the lane's state folder). Under systemd, /run/lanewarden/<lane>/ctl.sock "
        "(RuntimeDirectory in the unit).",
    )
    group: str = Field(
        "lanewarden",
        title="Socket group",
        description="The socket is made mode 0660 and given to this group when the group "
        "exists; operators in it may send commands.",
    )


def socket_path(control: ControlConfig | None, lane_id: str, store: str) -> Path:
    """The control socket of a lane: the configured path, or the default beside its store."""
    if control is not None and control.socket is not None:
        return Path(control.socket)
    return Path(store).parent / SOCKET_NAME.format(lane_id=lane_id)
