"""A real MQTT broker for tests: the shared one and private ones a test may stop.

The shared broker (fixture ``mqtt_broker``, one per session) is found in this order:
``LANEWARDEN_TEST_MQTT=host:port`` when set (CI's service container, or the
machine's own mosquitto); else ``mosquitto`` started on a free port when it is
installed; else an embedded amqtt broker (MQTT 3.1.1 only) in a thread
(``LANEWARDEN_TEST_MQTT_EMBEDDED=1`` picks it even where mosquitto is installed).
Tests share it, so each test uses topics of its own (``unique_prefix``).

A private broker (fixture ``private_broker``) belongs to one test, which may
``stop()`` it and ``start()`` it again on the same port: the broker comes back
with no sessions, no subscriptions and no retained messages, as a broker
restarted without persistence does. Outage tests use it. Both kinds are
:mod:`plumbing.broker_process`'s and :mod:`simulators.mqtt_broker`'s, the brokers the demo
and the bench start too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Protocol

import pytest

from plumbing.broker_process import MosquittoBroker, free_port, wait_listening
from plumbing.broker_process import parse_address as parse_any_address
from simulators.mqtt_broker import AmqttBroker, start_broker

__all__ = [
    "AmqttBroker",
    "MosquittoBroker",
    "MqttBroker",
    "free_port",
    "parse_address",
    "start_private_broker",
    "unique_prefix",
    "wait_listening",
]

ENV_VAR = "LANEWARDEN_TEST_MQTT"
EMBEDDED_VAR = "LANEWARDEN_TEST_MQTT_EMBEDDED"
"""Set to 1 to use amqtt even where mosquitto is installed (to try the fallback)."""


class MqttBroker(Protocol):
    """What a test sees of a broker: where it listens and whether it speaks MQTT 5."""

    host: str
    port: int
    mqtt5: bool

    def stop(self) -> None: ...

    def start(self) -> None: ...


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` from the environment, or a clear error naming the variable."""
    return parse_any_address(text, ENV_VAR)


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


def start_private_broker() -> MosquittoBroker | AmqttBroker:
    """A broker of the caller's own: mosquitto when installed (and not overridden), else amqtt."""
    return start_broker("embedded" if os.environ.get(EMBEDDED_VAR) == "1" else "auto")


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
