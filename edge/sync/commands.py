"""Commands from central (topic ``cmd``): read as the control socket reads them, answered once.

A command is parsed with :func:`contracts.commands.parse_command` (an expired one
is refused, unexecuted), then handed to the lane's operator desk on the lane's
event loop, the same desk that serves ``lanewarden edge ctl``: it records who and
why before the lane acts, and answers a repeated ``command_id`` with its first
answer. ``resend`` concerns the outbox alone and is carried out here; a repeated
resend id is answered once too. Every answer goes to ``cmd/result``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import UTC, datetime

from contracts.commands import (
    Command,
    CommandError,
    CommandResult,
    ResendCommand,
    parse_command,
)
from plumbing import log

logger = log.get(__name__)

Handler = Callable[[Command], Awaitable[CommandResult]]
Answer = Callable[[CommandResult], None]
Resend = Callable[[ResendCommand], str | None]
"""Carries out a resend; the error when it cannot."""


class RemoteCommands:
    """Takes command payloads in the outbox's thread; answers through ``answer``."""

    def __init__(
        self,
        handler: Handler | None,
        loop: asyncio.AbstractEventLoop | None,
        resend: Resend,
        answer: Answer,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        remember: int = 256,
    ) -> None:
        self.handler = handler
        self.loop = loop
        self.resend = resend
        self.answer = answer
        self.clock = clock
        self.remember = remember
        self.refused = 0
        self._resends: OrderedDict[str, CommandResult] = OrderedDict()

    def take(self, raw: bytes) -> None:
        try:
            command = parse_command(raw, self.clock())
        except CommandError as exc:
            self.refused += 1
            logger.warning("sync_command_refused", error=str(exc), command_id=exc.command_id)
            self.answer(CommandResult(command_id=exc.command_id, ok=False, error=str(exc)))
            return
        if isinstance(command, ResendCommand):
            self.answer(self._resend(command))
            return
        if self.handler is None or self.loop is None:
            self.answer(_failed(command, "the lane takes no commands yet (it is starting)"))
            return
        future = asyncio.run_coroutine_threadsafe(_call(self.handler, command), self.loop)
        future.add_done_callback(lambda done: self.answer(_outcome(command, done)))

    def _resend(self, command: ResendCommand) -> CommandResult:
        earlier = self._resends.get(command.command_id)
        if earlier is not None:
            return earlier
        error = self.resend(command)
        result = CommandResult(command_id=command.command_id, ok=error is None, error=error)
        self._resends[command.command_id] = result
        while len(self._resends) > self.remember:
            self._resends.popitem(last=False)
        logger.info(
            "sync_resend_asked",
            command_id=command.command_id,
            stream=command.stream,
            from_seq=command.from_seq,
            operator_id=command.operator_id,
            ok=result.ok,
        )
        return result


async def _call(handler: Handler, command: Command) -> CommandResult:
    return await handler(command)


def _outcome(command: Command, done: Future[CommandResult]) -> CommandResult:
    if done.cancelled():
        return _failed(command, "the lane stopped before carrying it out")
    error = done.exception()
    if error is not None:
        logger.error("sync_command_failed", command_id=command.command_id, error=repr(error))
        return _failed(command, f"the lane failed carrying it out: {error}")
    return done.result()


def _failed(command: Command, error: str) -> CommandResult:
    return CommandResult(command_id=command.command_id, ok=False, error=error)
