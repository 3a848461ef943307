"""A daemon as its own process: ``lanewarden edge run`` (or ``central run``) started the way
systemd starts it.

The child gets a ``NOTIFY_SOCKET`` (an abstract socket this process listens on),
so :meth:`LaneProcess.start` (spawn, then wait) returns when the lane says READY=1, and fails with
the tail of the lane's log when it exits first or does not get ready in time;
:meth:`LaneProcess.poll_ready` looks once, for a caller that waits for several
lanes and shows progress. The child's output (JSON log lines) goes to its log
file, and with ``echo`` to that stream too. The child runs in a session of its
own, as systemd starts a unit: a Ctrl-C at the terminal reaches the program that
started it, which then stops it in order with SIGTERM, and the kernel shares the
CPUs between the lane and that program (its simulators) as between two services.
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
from typing import IO, TextIO

from plumbing import log

logger = log.get(__name__)

READY_TIMEOUT_S = 120.0  # imports and models on a loaded 2-core machine
STOP_TIMEOUT_S = 60.0


class LaneStartError(Exception):
    """The lane process exited or did not report ready; the message ends with its log."""


class DaemonProcess:
    """``lanewarden COMMAND --config FILE`` of a Type=notify daemon (see the module)."""

    def __init__(
        self,
        command: tuple[str, ...],
        config_path: Path,
        log_path: Path,
        echo: TextIO | None = None,
    ) -> None:
        self.command = command
        self.lane_path = config_path
        self.log_path = log_path
        self.echo = echo
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._deadline = 0.0
        self._timeout_s = READY_TIMEOUT_S
        self._copier: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(
        self, timeout_s: float = READY_TIMEOUT_S, cancel: threading.Event | None = None
    ) -> bool:
        """Spawn the lane and wait until it is ready (True) or ``cancel`` is set (False)."""
        self.spawn(timeout_s)
        return self.wait_ready(cancel)

    def spawn(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start the lane process, which has ``timeout_s`` to say READY=1."""
        name = f"lanewarden-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
        env["NOTIFY_SOCKET"] = "@" + name
        command = [
            sys.executable,
            "-m",
            "plumbing.cli",
            "--log-format",
            "json",
            *self.command,
            "--config",
            str(self.lane_path),
        ]
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(  # noqa: S603 - this Python, this package, our file
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file if self.echo is None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        if self.echo is not None:
            assert self.proc.stdout is not None
            self._copier = threading.Thread(
                target=self._copy, args=(self.proc.stdout, self.echo), name="lane-log-echo"
            )
            self._copier.start()
        logger.info(
            "lane_process_started",
            pid=self.proc.pid,
            command=" ".join(self.command),
            config=str(self.lane_path),
        )

    def wait_ready(self, cancel: threading.Event | None = None) -> bool:
        """True once the lane said READY=1; False when ``cancel`` was set first (a Ctrl-C)."""
        while not self.poll_ready():
            if cancel is not None and cancel.is_set():
                return False
        return True

    def poll_ready(self, wait_s: float = 0.2) -> bool:
        """Whether the lane said READY=1 within ``wait_s``; :class:`LaneStartError` when it
        exited, or its time to get ready is up (then it is stopped)."""
        assert self._sock is not None, "spawn() first"
        assert self.proc is not None, "spawn() first"
        if self.proc.poll() is not None:
            code = self.proc.returncode
            self._close()
            raise LaneStartError(f"{self._what()} exited with status {code}:\n{self.tail()}")
        if time.monotonic() > self._deadline:
            self.stop()
            raise LaneStartError(
                f"{self._what()} did not report ready in {self._timeout_s:g} s:\n{self.tail()}"
            )
        self._sock.settimeout(wait_s)
        try:
            message = self._sock.recv(4096).decode(errors="replace")
        except TimeoutError:
            return False
        return "READY=1" in message.splitlines()

    def _copy(self, source: IO[bytes], echo: TextIO) -> None:
        """The lane's output, line by line, into its log file and onto ``echo``."""
        with source, self.log_path.open("ab") as log_file:
            for line in source:
                log_file.write(line)
                log_file.flush()
                echo.write(line.decode(errors="replace"))
                echo.flush()

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

    def kill(self) -> int | None:
        """SIGKILL the lane's process group now, as a power cut would, and reap it; the status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # its own group (process_group=0)
            proc.wait()
        logger.info("lane_process_killed", pid=proc.pid)
        self._close()
        return proc.returncode

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"

    def _what(self) -> str:
        return f"{' '.join(self.command)} process for {self.lane_path.name}"

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._copier is not None:
            self._copier.join()  # the lane has exited: its output ends
            self._copier = None


class LaneProcess(DaemonProcess):
    """A lane daemon: ``lanewarden edge run --config LANE_FILE``."""

    def __init__(self, lane_path: Path, log_path: Path, echo: TextIO | None = None) -> None:
        super().__init__(("edge", "run"), lane_path, log_path, echo)
