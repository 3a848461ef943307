"""The embedded MQTT broker (amqtt, MQTT 3.1.1) for where mosquitto is not installed.

It runs on an event loop in a thread of the process that starts it (the demo,
a test), and stops and starts again on its port as :class:`plumbing.broker_process.Broker`
says. :func:`start_broker` is the choice the demo and the tests make: mosquitto
when installed, else this one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from plumbing.broker_process import (
    READY_TIMEOUT_S,
    BrokerStartError,
    MosquittoBroker,
    find_mosquitto,
    free_port,
)

Choice = Literal["auto", "mosquitto", "embedded"]
CHOICES: tuple[Choice, ...] = ("auto", "mosquitto", "embedded")


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
