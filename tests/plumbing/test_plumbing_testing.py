"""The shared waiting helpers fail naming what they waited for, and return once it holds."""

from __future__ import annotations

import asyncio
import socket

import pytest

from plumbing.testing import free_port, settle, wait_until


class TestWaitUntil:
    """wait_until polls until the condition holds, or fails naming it."""

    def test_returns_once_the_condition_holds(self) -> None:
        polls: list[int] = []
        wait_until(lambda: len(polls) >= 3, "three polls", tick=lambda: polls.append(1))
        assert len(polls) == 3

    def test_fails_naming_what_it_waited_for(self) -> None:
        with pytest.raises(AssertionError, match=r"after 0.05 s waiting for the barrier"):
            wait_until(lambda: False, "the barrier", 0.05)

    def test_settle_lets_other_tasks_run(self) -> None:
        async def scenario() -> list[str]:
            done: list[str] = []

            async def later() -> None:
                await asyncio.sleep(0.02)
                done.append("ran")

            task = asyncio.create_task(later())
            await settle(lambda: bool(done), "the other task")
            await task
            return done

        assert asyncio.run(scenario()) == ["ran"]

    def test_settle_fails_naming_what_it_waited_for(self) -> None:
        with pytest.raises(AssertionError, match="waiting for nothing"):
            asyncio.run(settle(lambda: False, "nothing", 0.05))


def test_free_port_refuses_connections() -> None:
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", free_port())),
    ):
        pass
