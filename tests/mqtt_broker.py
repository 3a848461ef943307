"""A real MQTT broker for tests: the shared one and private ones a test may stop.

The shared broker (fixture ``mqtt_broker``, one per session) is found in this order:
``LANEWARDEN_TEST_MQTT=host:port`` when set (CI's service container, or the
machine's own mosquitto); else ``mosquitto`` started on a free port when it is
installed; else an embedded amqtt broker (MQTT 3.1.1 only) in a thread. Tests
share it, so each test uses topics of its own (``unique_prefix``).

A private broker (fixture ``private_broker``) belongs to one test, which may
``stop()`` it and ``start()`` it again on the same port: the broker comes back
with no sessions, no subscriptions and no retained messages, as a broker
restarted without persistence does. Outage tests use it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

ENV_VAR = "LANEWARDEN_TEST_MQTT"
EMBEDDED_VAR = "LANEWARDEN_TEST_MQTT_EMBEDDED"
"""Set to 1 to use amqtt even where mosquitto is installed (to try the fallback)."""
READY_TIMEOUT_S = 10.0


class MqttBroker(Protocol):
    """What a test sees of a broker: where it listens and whether it speaks MQTT 5."""

    host: str
    port: int
    mqtt5: bool

    def stop(self) -> None: ...

    def start(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_listening(host: str, port: int, timeout: float = READY_TIMEOUT_S) -> None:
    """Return once ``host:port`` accepts a TCP connection; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no MQTT broker listening on {host}:{port}: {exc}") from exc
            time.sleep(0.05)


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` from the environment, or a clear error naming the variable."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{ENV_VAR} must be host:port, got {text!r}")
    return host, int(port)


class ExternalBroker:
    """A broker someone else runs (``LANEWARDEN_TEST_MQTT``); it cannot be restarted."""

    mqtt5 = True

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        wait_listening(host, port)

    def stop(self) -> None:
        raise RuntimeError(f"the broker from {ENV_VAR} is not this test's to stop")

    def start(self) -> None:
        raise RuntimeError(f"the broker from {ENV_VAR} is not this test's to start")


class MosquittoBroker:
    """``mosquitto`` on loopback, no persistence, anonymous clients, one port."""

    mqtt5 = True

    def __init__(self, executable: str, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="lanewarden-mosquitto-"))
        self._conf = self._dir / "mosquitto.conf"
        self._conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n",
            encoding="utf-8",
        )
        self._executable = executable
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("mosquitto is already running")
        log = (self._dir / "mosquitto.log").open("ab")
        try:
            self._proc = subprocess.Popen(
                [self._executable, "-c", str(self._conf)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            wait_listening(self.host, self.port)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class AmqttBroker:
    """The embedded amqtt broker (MQTT 3.1.1) on its own event loop in a thread."""

    mqtt5 = False

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self.start()

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
            from amqtt.broker import Broker  # only when there is no mosquitto

            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            broker = Broker(self._config())
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
            raise RuntimeError(f"amqtt broker did not start on port {self.port}") from failure[0]
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


def start_private_broker() -> MosquittoBroker | AmqttBroker:
    """A broker of the caller's own: mosquitto when installed, else amqtt."""
    executable = shutil.which("mosquitto") or shutil.which(
        "mosquitto", path="/usr/sbin:/usr/local/sbin"
    )
    if executable:
        return MosquittoBroker(executable)
    return AmqttBroker()


def unique_prefix() -> str:
    """A topic prefix no other test on a shared broker uses."""
    return f"lanewarden-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[MqttBroker]:
    """The session's broker: ``LANEWARDEN_TEST_MQTT``, else mosquitto, else amqtt."""
    address = os.environ.get(ENV_VAR)
    if address:
        yield ExternalBroker(*parse_address(address))
        return
    broker = start_private_broker()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def private_broker() -> Iterator[MosquittoBroker | AmqttBroker]:
    """A broker for one test, which may ``stop()`` and ``start()`` it (state lost)."""
    broker = start_private_broker()
    try:
        yield broker
    finally:
        broker.close()
