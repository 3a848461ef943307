"""Structured logging, configured once per process.

Log lines are facts (``barrier_opened lane_id=... txn_id=...``). On a terminal
they are rendered for people; under systemd (no terminal) they are JSON lines
for journald. A program whose terminal is for people (``lanewarden demo``)
sends them to a file instead, with :func:`to_file`. Context such as the lane id and the transaction id is bound with
:func:`bind` and carried by contextvars into every line logged below it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog

Format = Literal["auto", "json", "console"]


def configure(level: str = "info", fmt: str = "auto", out: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger to write to ``out`` (default stderr)."""
    stream = sys.stderr if out is None else out
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (pymodbus, paho) log through the stdlib; route them to the same place.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=stream, force=True)


@contextmanager
def to_file(path: Path, level: str = "info", fmt: str = "auto") -> Iterator[None]:
    """JSON lines appended to ``path`` while the block runs; then stderr again, as
    ``configure(level, fmt)`` sets it."""
    with path.open("a", encoding="utf-8") as out:
        configure(level, "json", out=out)
        try:
            yield
        finally:
            configure(level, fmt)


def get(name: str | None = None, **context: Any) -> structlog.typing.FilteringBoundLogger:
    """A logger for a module, optionally with fixed context."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger.bind(**context) if context else logger


def bind(**context: Any) -> None:
    """Bind context (``lane_id``, ``txn_id``) to every later log line of this task."""
    structlog.contextvars.bind_contextvars(**context)


def unbind(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)
