"""What the demo shows a person: its lines, and a progress line while something slow runs.

Everything the demo prints goes through one :class:`Screen`, from any thread.
On a terminal the progress line is redrawn in place (a spinner, the seconds
waited) and cleared before the next line; elsewhere (a pipe, a file, a test)
it is printed as a line of its own, at most every ``every_s`` seconds, so a
log of the run shows that the demo is alive without filling up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

SPINNER = "|/-\\"
CLEAR_LINE = "\r\x1b[K"


class Screen:
    def __init__(
        self,
        out: TextIO,
        *,
        live: bool | None = None,
        every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.live = out.isatty() if live is None else live
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._shown = False  # a progress line is on the terminal, to be cleared
        self._spin = 0
        self._last: float | None = None

    def say(self, line: str) -> None:
        """Print a line for the person at the terminal."""
        with self._lock:
            self._clear()
            print(line, file=self.out, flush=True)

    def progress(self, text: str) -> None:
        """Show how a slow step is going: redrawn in place on a terminal, else now and then."""
        with self._lock:
            if self.live:
                self._spin = (self._spin + 1) % len(SPINNER)
                self.out.write(f"{CLEAR_LINE}{SPINNER[self._spin]} {text}")
                self.out.flush()
                self._shown = True
                return
            now = self._clock()
            if self._last is None:
                self._last = now  # the line that started the step says it; report from here
            elif now - self._last >= self.every_s:
                self._last = now
                print(f"  ... {text}", file=self.out, flush=True)

    def done(self) -> None:
        """The slow step is over: clear its progress line."""
        with self._lock:
            self._clear()
            self._last = None

    def _clear(self) -> None:
        if self._shown:
            self.out.write(CLEAR_LINE)
            self._shown = False
