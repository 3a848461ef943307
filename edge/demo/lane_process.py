"""A lane daemon as its own process: ``lanewarden edge run`` started the way systemd starts it.

The child gets a ``NOTIFY_SOCKET`` (an abstract socket this process listens on),
so :meth:`LaneProcess.start` (spawn, then wait) returns when the lane says READY=1, and fails with
the tail of the lane's log when it exits first or does not get ready in time.
The child runs in its own process group: a Ctrl-C at the terminal reaches the
program that started it, which then stops it in order with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from edge import log

logger = log.get(__name__)

READY_TIMEOUT_S = 120.0  # imports and models on a loaded 2-core machine
STOP_TIMEOUT_S = 60.0


class LaneStartError(Exception):
    """The lane process exited or did not report ready; the message ends with its log."""


class LaneProcess:
    def __init__(self, lane_path: Path, log_path: Path) -> None:
        self.lane_path = lane_path
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(
        self, timeout_s: float = READY_TIMEOUT_S, cancel: threading.Event | None = None
    ) -> bool:
        """Spawn the lane and wait until it is ready (True) or ``cancel`` is set (False)."""
        self.spawn()
        return self.wait_ready(timeout_s, cancel)

    def spawn(self) -> None:
        """Start the lane process; :meth:`wait_ready` waits for its READY=1."""
        name = f"lanewarden-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
        env["NOTIFY_SOCKET"] = "@" + name
        command = [
            sys.executable,
            "-m",
            "edge.cli",
            "--log-format",
            "json",
            "edge",
            "run",
            "--config",
            str(self.lane_path),
        ]
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - this Python, this package, our file
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
            )
        logger.info("lane_process_started", pid=self.proc.pid, config=str(self.lane_path))

    def wait_ready(
        self, timeout_s: float = READY_TIMEOUT_S, cancel: threading.Event | None = None
    ) -> bool:
        """True once the lane said READY=1; False when ``cancel`` was set first (a Ctrl-C)."""
        assert self._sock is not None, "spawn() first"
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        self._sock.settimeout(0.2)
        while True:
            if cancel is not None and cancel.is_set():
                return False
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._close()
                raise LaneStartError(f"{self._what()} exited with status {code}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise LaneStartError(
                    f"{self._what()} did not report ready in {timeout_s:g} s:\n{self.tail()}"
                )
            try:
                message = self._sock.recv(4096).decode(errors="replace")
            except TimeoutError:
                continue
            if "READY=1" in message.splitlines():
                return True

    def peak_rss_mb(self) -> float | None:
        """The process's peak resident memory so far (VmHWM), while it runs."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, as systemd stops a lane, and wait; SIGKILL after ``timeout_s``. The exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                logger.error("lane_process_killed", pid=proc.pid, after_s=timeout_s)
                proc.kill()
                proc.wait()
        self._close()
        return proc.returncode

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"

    def _what(self) -> str:
        return f"lane process for {self.lane_path.name}"

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
