"""Delayed work of the gateway simulator (auto-pay, late callbacks) on one thread."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from plumbing import log

logger = log.get(__name__)


class Scheduler:
    """Runs delayed actions (auto-pay, late callbacks) on one thread, in due order."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def later(self, delay_s: float, action: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (self.monotonic() + delay_s, next(self._seq), action))
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-sim-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = self.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                if self._stopping:
                    return
                _, _, action = heapq.heappop(self._heap)
            try:
                action()
            except Exception:  # a failing action must not stop the simulator; it is logged
                logger.exception("scheduled_action_failed")
