"""LoopThread: an asyncio service in a thread, started and stopped from plain code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from plumbing.loop_thread import LoopThread


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []

    async def serve(self, stop: asyncio.Event, ready: Callable[[], None]) -> None:
        self.steps.append("started")
        ready()
        await stop.wait()
        self.steps.append("stopped")


def test_start_returns_when_ready_and_stop_ends_the_service() -> None:
    service = Recorder()
    thread = LoopThread(service.serve, name="recorder")
    thread.start()
    assert service.steps == ["started"]
    thread.stop()
    assert service.steps == ["started", "stopped"]
    thread.stop()  # a second stop does nothing


def test_failure_before_ready_is_raised_by_start() -> None:
    async def broken(stop: asyncio.Event, ready: Callable[[], None]) -> None:
        raise OSError("port 5020 taken")

    thread = LoopThread(broken, name="broken")
    with pytest.raises(OSError, match="port 5020 taken"):
        thread.start()
    thread.stop()


def test_service_that_ended_on_its_own_stops_cleanly() -> None:
    async def short(stop: asyncio.Event, ready: Callable[[], None]) -> None:
        ready()

    thread = LoopThread(short, name="short")
    thread.start()
    thread.stop()


def test_failure_after_ready_is_kept_not_raised_in_the_thread() -> None:
    async def fails_later(stop: asyncio.Event, ready: Callable[[], None]) -> None:
        ready()
        await stop.wait()
        raise RuntimeError("server shutdown failed")

    thread = LoopThread(fails_later, name="fails-later")
    thread.start()
    thread.stop()
    assert isinstance(thread.failure, RuntimeError)
