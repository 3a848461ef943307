"""An MQTT broker this program starts and may stop: mosquitto, on a free loopback port.

The demo, the sync bench and the tests all need a broker of their own, one that
can be stopped and started again on the same port (an outage): :class:`MosquittoBroker`
(MQTT 5, shared subscriptions), and where mosquitto is not installed the embedded
amqtt broker of :mod:`simulators.mqtt_broker` (a simulator's dependency, which
central's bench does not need), which also has :func:`~simulators.mqtt_broker.start_broker`,
the choice between them. Both satisfy :class:`Broker` and come back from
``stop()``/``start()`` with no sessions, no subscriptions and no retained
messages, as a broker restarted without persistence does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
SBIN = "/usr/sbin:/usr/local/sbin"


class BrokerStartError(RuntimeError):
    """The broker cannot be started: not installed, or not listening in time."""


class Broker(Protocol):
    """A broker of this program's: where it listens, whether it speaks MQTT 5, stop/start."""

    host: str
    port: int
    mqtt5: bool

    @property
    def name(self) -> str: ...

    @property
    def running(self) -> bool: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_listening(host: str, port: int, timeout: float = READY_TIMEOUT_S) -> None:
    """Return once ``host:port`` accepts a TCP connection; :class:`BrokerStartError` after
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerStartError(f"no MQTT broker listening on {host}:{port}: {exc}") from exc
            time.sleep(0.05)


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``host:port``, or a :class:`ValueError` naming ``what`` gave it (a flag, a variable)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what} must be host:port, got {text!r}")
    return host, int(port)


def find_mosquitto() -> str | None:
    """The mosquitto executable (Debian puts it in /usr/sbin, off a user's PATH), or None."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path=SBIN)


class MosquittoBroker:
    """``mosquitto`` on loopback, no persistence, anonymous clients, one port.

    Its config and log are in ``workdir`` (a new temporary folder when None, removed
    by :meth:`close`); ``settings`` are more lines for the config file.
    """

    mqtt5 = True
    name = "mosquitto"

    def __init__(
        self,
        executable: str,
        port: int | None = None,
        *,
        workdir: Path | None = None,
        settings: Sequence[str] = (),
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="lanewarden-mosquitto-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.log = self.dir / "mosquitto.log"
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            *settings,
        ]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._executable = executable
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("mosquitto is already running")
        with self.log.open("ab") as log:
            # the machine's mosquitto, with the config file written above
            self._proc = subprocess.Popen(  # noqa: S603
                [self._executable, "-c", str(self.conf)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            wait_listening(self.host, self.port)
        except BrokerStartError:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
