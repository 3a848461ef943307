"""An asyncio service in a background thread, started and stopped from plain code.

The demo, the lane bench and the simulators run several asyncio services (a
lane, a Modbus server) in one process next to threaded ones. :class:`LoopThread`
gives each its own event loop in a thread: ``start()`` returns once the service
said it is ready, or raises what stopped it from getting there; ``stop()`` sets
the service's stop event on its loop and waits for it to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from plumbing import log

logger = log.get(__name__)

#: ``main(stop, ready)``: call ``ready()`` once serving, return after ``stop`` is set.
Service = Callable[[asyncio.Event, Callable[[], None]], Coroutine[Any, Any, None]]


class LoopThread:
    def __init__(self, main: Service, *, name: str, daemon: bool = False) -> None:
        self.main = main
        self.name = name
        self.daemon = daemon
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        #: What ended the service after it was ready, if it did not end cleanly.
        self.failure: BaseException | None = None

    def start(self) -> None:
        """Run the service; returns once it is ready, raises what kept it from starting."""
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=self.daemon)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error

    def stop(self) -> None:
        """Ask the service to stop and wait for its thread (nothing if it is not running)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            # A closed loop refuses the call: the service has already ended on its own.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._body())
        except BaseException as exc:
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
                return
            self.failure = exc
            # At shutdown the log stream may already be closed (that may be the failure).
            with contextlib.suppress(ValueError, OSError):
                logger.error("service_failed", service=self.name, error=repr(exc))

    async def _body(self) -> None:
        self._error = None
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.main(self._stop, self._ready.set)
