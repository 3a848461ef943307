"""Waiting and port helpers for tests and commissioning scripts of every side.

Public API, as ``structlog.testing`` is: lanewarden's own tests use these, and so
may a technician's script or another project that drives a lane, a simulator or
central and has to wait for something asynchronous to happen. Every wait is
bounded and fails with :class:`AssertionError` naming what it waited for, so a
test that fails says why instead of hanging. :func:`free_port` (from
:mod:`plumbing.broker_process`) is a loopback port nobody listens on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from plumbing.broker_process import free_port

__all__ = ["WAIT_S", "free_port", "settle", "wait_until"]

WAIT_S = 15.0
"""Generous by default: a slow, shared machine must never fail a test by being slow."""


def wait_until(
    condition: Callable[[], bool],
    what: str,
    timeout_s: float = WAIT_S,
    *,
    poll_s: float = 0.01,
    tick: Callable[[], None] | None = None,
) -> None:
    """Poll ``condition()`` until it holds (running ``tick`` between polls); fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        if tick is not None:
            tick()
        time.sleep(poll_s)


async def settle(
    condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S, *, poll_s: float = 0.01
) -> None:
    """:func:`wait_until` inside an event loop: the loop's other tasks run while it waits."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(poll_s)
