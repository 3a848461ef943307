"""The device end of a serial line for the serial simulators (barrier, display).

Either a pseudo-terminal the simulator creates (the lane opens the slave path
it prints) or a real or virtual serial port given by path (an RS-485 adapter,
one end of a ``socat`` pair).

The pty's slave stays open in the simulator as well, so that a lane closing
and reopening the port (a driver reconnecting) does not hang up the master.
When the simulator goes, both ends close and the lane's reads fail at once,
which is how its driver notices a vanished device.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import threading
import tty
from collections.abc import Callable
from typing import Protocol

import serial

from plumbing import log
from simulators.control import ControlServer, Route
from simulators.running import announce, stop_on_signal

logger = log.get(__name__)


class LinkLostError(Exception):
    """The serial line is gone (the other end of a socat pair died, an adapter was unplugged)."""


class Link(Protocol):
    path: str

    def read(self, timeout: float) -> bytes:
        """Bytes available within ``timeout`` seconds (maybe none); :class:`LinkLostError` when gone."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class PtyLink:
    """A new pseudo-terminal; ``path`` is the device the lane opens."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        flags = fcntl.fcntl(self._master, fcntl.F_GETFL)
        fcntl.fcntl(self._master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.path = os.ttyname(self._slave)
        self._closed = False

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise LinkLostError(f"pty {self.path}: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            raise LinkLostError(f"pty {self.path}: {exc}") from exc
        if written < len(data):
            # Nobody has been reading the slave and its buffer is full.
            logger.warning("pty_buffer_full", path=self.path, dropped=len(data) - written)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    raise


class PortLink:
    """An existing serial device opened through pyserial."""

    def __init__(self, path: str, baudrate: int = 9600) -> None:
        self.path = path
        try:
            self._port = serial.Serial(path, baudrate=baudrate, timeout=0.05, write_timeout=1.0)
        except (serial.SerialException, OSError) as exc:
            raise LinkLostError(f"cannot open {path}: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        try:
            self._port.timeout = timeout
            return self._port.read(max(1, self._port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise LinkLostError(f"{self.path}: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkLostError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        self._port.close()


def open_link(port: str | None, baudrate: int = 9600) -> PtyLink | PortLink:
    """A new pty when ``port`` is None, else that serial device."""
    return PtyLink() if port is None else PortLink(port, baudrate)


class LinkLoop:
    """Hands every chunk read from ``link`` to ``handle``, in a thread, until stopped.

    When the link is lost the loop ends by itself: :attr:`lost` says why and
    :attr:`finished` is set, so the command running the simulator can exit.
    """

    def __init__(self, link: Link, handle: Callable[[bytes], None], name: str) -> None:
        self.link = link
        self.lost: str | None = None
        self.finished = threading.Event()
        self._handle = handle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self.link.read(0.05)
                if data:
                    self._handle(data)
        except LinkLostError as exc:
            self.lost = str(exc)
            logger.error("link_lost", path=self.link.path, reason=self.lost)
        finally:
            self.finished.set()


class SerialSimulator(Protocol):
    loop: LinkLoop

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def routes(self) -> dict[str, Route]: ...


def serve_until_signal(simulator: SerialSimulator, what: str, control_port: int) -> int:
    """Run a serial simulator in the foreground: ``what`` and the link's device path on the
    first line of stdout, the control URL on the second, until SIGINT/SIGTERM (exit 0) or
    until the link is lost (exit 1). Closes the control server and the link.
    """
    link = simulator.loop.link
    with stop_on_signal() as stop:
        control = ControlServer(simulator.routes(), port=control_port)
        try:
            control.start()
            announce((f"{what} on serial port", link.path), ("control", control.url))
            simulator.start()
            while not stop.wait(0.1) and not simulator.loop.finished.is_set():
                pass
            simulator.stop()
        finally:
            control.stop()
            link.close()
    if simulator.loop.lost is not None:
        return 1
    logger.info("simulator_stopped", path=link.path)
    return 0
