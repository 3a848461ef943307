"""Running a simulator in the foreground: where to reach it, then until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO


def announce(*places: tuple[str, str], out: TextIO | None = None) -> None:
    """Print where to reach a simulator, one ``what: address`` line per place, flushed.

    Called before the simulator logs anything, so these are its first lines on a
    terminal too. The address is each line's last word (``awk '{print $NF}'``).
    """
    stream = out if out is not None else sys.stdout
    for what, address in places:
        if not address or any(ch.isspace() for ch in address):
            raise ValueError(f"{what}: an address is one word, got {address!r}")
        print(f"{what}: {address}", file=stream, flush=True)


@contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM; the previous handlers come back on exit.

    Use from the main thread: ``with stop_on_signal() as stop: ...; stop.wait()``.
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
