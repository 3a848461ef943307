"""The test brokers: a real publish/subscribe round trip, and a restart that forgets."""

from __future__ import annotations

import queue
import shutil

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import (
    AmqttBroker,
    MosquittoBroker,
    MqttBroker,
    parse_address,
    unique_prefix,
)
from paho.mqtt.enums import CallbackAPIVersion


def connected_client(broker: MqttBroker, inbox: queue.Queue[mqtt.MQTTMessage]) -> mqtt.Client:
    """A paho client connected to ``broker`` that puts every message it gets in ``inbox``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_message = lambda _c, _u, msg: inbox.put(msg)
    client.connect(broker.host, broker.port, keepalive=10)
    client.loop_start()
    return client


def round_trip(broker: MqttBroker, *, retain: bool = False) -> mqtt.MQTTMessage:
    """Subscribe, publish one QoS 1 message, return what came back."""
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client = connected_client(broker, inbox)
    try:
        topic = f"{unique_prefix()}/ping"
        result, _mid = client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        client.publish(topic, b"hello", qos=1, retain=retain).wait_for_publish(5)
        return inbox.get(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


def retained_on(broker: MqttBroker, topic: str) -> list[bytes]:
    """The retained payloads a fresh subscriber to ``topic`` receives within a second."""
    inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client = connected_client(broker, inbox)
    try:
        client.subscribe(topic, qos=1)
        got: list[bytes] = []
        try:
            while True:
                got.append(bytes(inbox.get(timeout=1.0).payload))
        except queue.Empty:
            return got
    finally:
        client.loop_stop()
        client.disconnect()


def publish_retained(broker: MqttBroker, topic: str) -> None:
    client = connected_client(broker, queue.Queue())
    try:
        client.publish(topic, b"kept", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


class TestSharedBroker:
    """The session's broker carries a message from a publisher to a subscriber."""

    def test_round_trip(self, mqtt_broker: MqttBroker) -> None:
        msg = round_trip(mqtt_broker)
        assert msg.payload == b"hello"
        assert msg.qos == 1


class TestPrivateBroker:
    """A private broker restarts on its port and has forgotten what it retained."""

    def test_restart_loses_retained(self, private_broker: MosquittoBroker | AmqttBroker) -> None:
        topic = f"{unique_prefix()}/state"
        publish_retained(private_broker, topic)
        assert retained_on(private_broker, topic) == [b"kept"]
        port = private_broker.port
        private_broker.stop()
        with pytest.raises(ConnectionRefusedError):
            connected_client(private_broker, queue.Queue())
        private_broker.start()
        assert private_broker.port == port
        assert retained_on(private_broker, topic) == []
        assert round_trip(private_broker).payload == b"hello"


class TestEachImplementation:
    """Both implementations work, whichever the machine would pick."""

    def test_amqtt(self) -> None:
        broker = AmqttBroker()
        try:
            assert round_trip(broker).payload == b"hello"
            broker.stop()
            broker.start()
            assert round_trip(broker).payload == b"hello"
        finally:
            broker.close()

    @pytest.mark.skipif(
        shutil.which("mosquitto", path="/usr/sbin:/usr/bin") is None, reason="no mosquitto"
    )
    def test_mosquitto(self) -> None:
        executable = shutil.which("mosquitto", path="/usr/sbin:/usr/bin")
        assert executable is not None
        broker = MosquittoBroker(executable)
        try:
            assert round_trip(broker).payload == b"hello"
        finally:
            broker.close()


class TestAddress:
    """The environment's broker address is read strictly."""

    def test_good(self) -> None:
        assert parse_address("broker.example:1884") == ("broker.example", 1884)

    @pytest.mark.parametrize("text", ["localhost", ":1883", "host:", "host:port", "host:70000"])
    def test_bad_names_the_variable(self, text: str) -> None:
        with pytest.raises(ValueError, match="LANEWARDEN_TEST_MQTT"):
            parse_address(text)
