"""The control socket on its own: stale sockets, live ones, bad paths, long lines."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.commands import Command, CommandResult, new_command
from edge.daemon.control import MAX_LINE, ControlServer, ControlSocketError, send


async def echo(command: Command) -> CommandResult:
    return CommandResult(command_id=command.command_id, ok=True, lane={"type": command.type})


class TestStart:
    """A socket left by a dead lane is replaced; a live one, a file or a long path is refused."""

    def test_stale_socket_is_replaced(self, tmp_path: Path) -> None:
        path = tmp_path / "ctl.sock"
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(os.fspath(path))
        dead.close()  # the file stays, nobody listens

        async def main() -> list[CommandResult]:
            server = ControlServer(path, echo, group=None)
            await server.start()
            try:
                status = new_command("status", operator_id="op", reason="", now=datetime.now(UTC))
                return await send(path, [status])
            finally:
                await server.stop()

        (result,) = asyncio.run(main())
        assert result.lane == {"type": "status"}
        assert not path.exists()

    def test_live_socket_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "ctl.sock"

        async def main() -> None:
            first = ControlServer(path, echo, group=None)
            await first.start()
            try:
                with pytest.raises(ControlSocketError, match="in use by another running lane"):
                    await ControlServer(path, echo, group=None).start()
            finally:
                await first.stop()

        asyncio.run(main())

    def test_a_file_in_the_way_is_refused_and_kept(self, tmp_path: Path) -> None:
        path = tmp_path / "ctl.sock"
        path.write_text("notes")
        with pytest.raises(ControlSocketError, match="exists and is not a socket"):
            asyncio.run(ControlServer(path, echo, group=None).start())
        assert path.read_text() == "notes"

    def test_too_long_a_path_is_refused_naming_the_setting(self, tmp_path: Path) -> None:
        path = tmp_path / ("x" * 120) / "ctl.sock"
        with pytest.raises(ControlSocketError, match=r"control.socket: .* longer than 107 bytes"):
            asyncio.run(ControlServer(path, echo, group=None).start())


class TestLines:
    """A line too long is answered with an error; the next client is served."""

    def test_overlong_line(self, tmp_path: Path) -> None:
        path = tmp_path / "ctl.sock"

        async def main() -> tuple[CommandResult, list[CommandResult]]:
            server = ControlServer(path, echo, group=None)
            await server.start()
            try:
                reader, writer = await asyncio.open_unix_connection(os.fspath(path))
                writer.write(b"x" * (MAX_LINE + 10) + b"\n")
                await writer.drain()
                answer = CommandResult.model_validate_json(await reader.readline())
                writer.close()
                await writer.wait_closed()
                status = new_command("status", operator_id="op", reason="", now=datetime.now(UTC))
                return answer, await send(path, [status])
            finally:
                await server.stop()

        answer, (after,) = asyncio.run(main())
        assert not answer.ok
        assert answer.error is not None
        assert "line longer than" in answer.error
        assert after.ok
