"""Fixtures for tests that run ``lanewarden central run`` (:class:`central.testing.Central`).

The ``centrals`` fixture kills whatever a test left running. The ``mosquitto`` fixture is a
private broker that speaks MQTT 5 (shared subscriptions), skipping, or failing
under ``LANEWARDEN_REQUIRE_SERVICES=1``, where only amqtt is available. This
module holds no tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker
from needs import unavailable

from central.testing import Central


@pytest.fixture
def centrals() -> Iterator[list[Central]]:
    """The test appends each :class:`Central` it starts; those still running are killed after."""
    made: list[Central] = []
    yield made
    for central in made:
        central.close()


@pytest.fixture
def mosquitto(private_broker: MosquittoBroker | AmqttBroker) -> MosquittoBroker:
    """A private broker with MQTT 5 shared subscriptions, which the embedded amqtt lacks."""
    if not isinstance(private_broker, MosquittoBroker):
        unavailable(
            "mosquitto is not installed (apt-get install mosquitto): central's shared "
            "subscriptions need an MQTT 5 broker"
        )
    return private_broker
