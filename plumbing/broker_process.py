"""An MQTT broker this program starts and may stop: mosquitto when installed, else amqtt.

The demo, the sync bench and the tests all need a broker of their own on a free
loopback port, one that can be stopped and started again on the same port (an
outage). :func:`start_broker` picks ``mosquitto`` (MQTT 5, shared subscriptions)
when it is installed, else the embedded amqtt broker (MQTT 3.1.1 only) on an event
loop in a thread of this process. Either comes back from ``stop()``/``start()``
with no sessions, no subscriptions and no retained messages, as a broker
restarted without persistence does.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
SBIN = "/usr/sbin:/usr/local/sbin"
Choice = Literal["auto", "mosquitto", "embedded"]
CHOICES: tuple[Choice, ...] = ("auto", "mosquitto", "embedded")


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


class AmqttBroker:
    """The embedded amqtt broker (MQTT 3.1.1) on its own event loop in a thread."""

    mqtt5 = False
    name = "amqtt (embedded, MQTT 3.1.1)"

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self.start()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _config(self) -> dict[str, object]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("amqtt is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            from amqtt.broker import Broker as Amqtt  # only when there is no mosquitto

            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            broker = Amqtt(self._config())
            try:
                await broker.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                raise
            ready.set()
            await self._stopped.wait()
            await broker.shutdown()

        def run() -> None:
            try:
                asyncio.run(serve())
            except BaseException as exc:  # handed to start(), or lost with the thread
                if not failure:
                    failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(READY_TIMEOUT_S):
            failure.append(TimeoutError(f"no start within {READY_TIMEOUT_S} s"))
        if failure:
            self._thread.join(5)
            self._thread = None
            raise BrokerStartError(f"amqtt broker did not start on port {self.port}") from failure[
                0
            ]
        # No TCP probe here: ``broker.start()`` returned with the listener bound, and
        # amqtt leaks the socket of a connection that closes before CONNECT.

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None:
            loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
        if thread.is_alive():
            raise RuntimeError(f"amqtt broker on port {self.port} did not stop")

    def close(self) -> None:
        self.stop()


def start_broker(
    choice: Choice = "auto", *, workdir: Path | None = None, settings: Sequence[str] = ()
) -> MosquittoBroker | AmqttBroker:
    """A broker of the caller's own, started: mosquitto (``auto`` when it is installed), else
    amqtt. ``workdir`` and ``settings`` are mosquitto's (:class:`MosquittoBroker`)."""
    if choice not in CHOICES:
        raise ValueError(f"broker: {choice!r} is not one of {', '.join(CHOICES)}")
    executable = None if choice == "embedded" else find_mosquitto()
    if executable is not None:
        return MosquittoBroker(executable, workdir=workdir, settings=settings)
    if choice == "mosquitto":
        raise BrokerStartError("mosquitto is not installed (apt-get install mosquitto)")
    return AmqttBroker()
