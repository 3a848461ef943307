"""The sd_notify protocol as systemd receives it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plumbing.systemd import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


class TestNotifier:
    """Readiness and watchdog datagrams reach NOTIFY_SOCKET; nothing happens without it."""

    def test_ready_and_watchdog(self, listener: tuple[socket.socket, str]) -> None:
        sock, path = listener
        notifier = Notifier({"NOTIFY_SOCKET": path})
        notifier.ready("lane riverside-exit up")
        assert sock.recv(256) == b"READY=1\nSTATUS=lane riverside-exit up"
        notifier.watchdog()
        assert sock.recv(256) == b"WATCHDOG=1"

    def test_watchdog_interval_is_half_the_timeout(self) -> None:
        env = {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
        assert Notifier(env).watchdog_interval_s == 5.0

    def test_watchdog_meant_for_another_process_is_ignored(self) -> None:
        assert (
            Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
        )

    def test_outside_systemd_does_nothing(self) -> None:
        notifier = Notifier({})
        assert not notifier.enabled
        notifier.ready("up")  # no socket, no error

    def test_full_queue_does_not_block(self, listener: tuple[socket.socket, str]) -> None:
        sock, path = listener
        notifier = Notifier({"NOTIFY_SOCKET": path})
        for _ in range(2000):  # far more than a datagram queue holds; nobody reads
            notifier.watchdog()
        assert sock.recv(256) == b"WATCHDOG=1"

    def test_socket_gone_is_logged_not_raised(self, tmp_path: Path) -> None:
        with capture_logs() as logs:
            Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).ready("up")
        assert [(e["event"], e["fields"]) for e in logs] == [
            ("sd_notify_failed", ["READY", "STATUS"])
        ]
