"""The lane's local control socket: operator commands in, results out, one JSON object a line.

The socket carries exactly the objects of :mod:`contracts.commands` (what MQTT
carries next). A line that is not a command (not JSON, unknown ``type``, a
missing ``reason``, expired) is answered with a :class:`CommandResult` whose
``error`` says what was wrong; the connection stays open for the next line.

Permissions: the socket is made mode 0660 and given to the configured group
(``lanewarden``) when that group exists, so members of the group may send
commands and nobody else can (the folder's own mode applies too).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from contracts.commands import Command, CommandError, CommandResult, parse_command
from plumbing import log

logger = log.get(__name__)

MAX_LINE = 16 * 1024
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with its terminating NUL

Handler = Callable[[Command], Awaitable[CommandResult]]


class ControlSocketError(Exception):
    """The control socket cannot be set up; the message names the path and the cause."""


class ControlServer:
    """Serves ``handler`` on a Unix socket at ``path``; ``start()``, then ``stop()``."""

    def __init__(
        self,
        path: Path,
        handler: Handler,
        *,
        group: str | None = "lanewarden",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.handler = handler
        self.group = group
        self.clock = clock
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        path = self.path
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise ControlSocketError(
                f"control.socket: {path} is longer than {MAX_SOCKET_PATH} bytes, "
                "the limit of a Unix socket path; configure a shorter one"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(path)
            self._server = await asyncio.start_unix_server(
                self._serve, path=os.fspath(path), limit=MAX_LINE
            )
            os.chmod(path, 0o660)
        except OSError as exc:
            raise ControlSocketError(
                f"control.socket: cannot listen on {path}: {exc.strerror or exc}"
            ) from exc
        self._give_to_group()
        logger.info("control_socket_listening", path=str(path), group=self.group)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _give_to_group(self) -> None:
        if self.group is None:
            return
        try:
            gid = grp.getgrnam(self.group).gr_gid
        except KeyError:
            logger.info("control_socket_group_missing", group=self.group)
            return
        try:
            os.chown(self.path, -1, gid)
        except OSError as exc:
            logger.warning("control_socket_chown_failed", group=self.group, cause=str(exc))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    writer.write(_refused(f"line longer than {MAX_LINE} bytes", None))
                    await writer.drain()
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                writer.write((await self.answer(line)).to_line())
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def answer(self, line: bytes) -> CommandResult:
        """The result for one line: the handler's, or the reason the line is not a command."""
        try:
            command = parse_command(line, self.clock())
        except CommandError as exc:
            logger.warning("control_command_refused", error=str(exc), command_id=exc.command_id)
            return CommandResult(command_id=exc.command_id, ok=False, error=str(exc))
        return await self.handler(command)


def _refused(error: str, command_id: str | None) -> bytes:
    return CommandResult(command_id=command_id, ok=False, error=error).to_line()


def _remove_stale(path: Path) -> None:
    """Remove a socket file left by a lane that died; refuse one that is live or not a socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(f"control.socket: {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise ControlSocketError(f"control.socket: {path} is in use by another running lane")


async def send(path: Path, commands: list[Command], timeout_s: float = 10.0) -> list[CommandResult]:
    """Send commands over the socket at ``path``; their results, in order (the ctl client)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_unix_connection(os.fspath(path), limit=MAX_LINE), timeout_s
    )
    try:
        results = []
        for command in commands:
            writer.write(command.model_dump_json().encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout_s)
            if not line:
                raise ConnectionError(f"{path}: the lane closed the connection")
            results.append(CommandResult.model_validate_json(line))
        return results
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
