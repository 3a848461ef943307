"""The files `central broker-config` writes, enforced by a real mosquitto (issue 16, ACL test).

A private mosquitto runs the generated mosquitto.conf unchanged (its listener, its
password file of our own `$7$` hashes, its ACL). Lanes log in the way a lane does:
``[broker]`` with ``password_file`` pointing at the generated credential. MQTT 5
throughout, so a refused publish is seen directly in its PUBACK ("not authorized");
mosquitto 2.0 grants any subscription and filters at delivery, so "not read" is
shown by what arrives: every refused or filtered message would have been queued
before a marker that the same subscriber does receive.
"""

from __future__ import annotations

import getpass
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import free_port, wait_listening
from needs import program
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.broker_config.bundle import write_broker_config
from central.broker_config.lanes import read_lanes
from contracts.mqtt.topics import (
    NETWORK_CONFIG_TOPIC,
    LaneTopic,
    lane_filter,
    lane_topic,
    plaza_config_topic,
    shared,
)
from plumbing.broker import BrokerConfig, configure_client

pytestmark = pytest.mark.services

NOT_AUTHORIZED = 0x87
BAD_LOGIN = 0x86
WAIT_S = 10.0
CENTRAL_USERS = ["ingest", "console"]


@dataclass
class Probe:
    """One MQTT 5 client driven by :func:`pump`; the broker's answers collect here."""

    client: mqtt.Client
    connack: list[ReasonCode] = field(default_factory=list)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)

    def topics(self) -> set[str]:
        return {topic for topic, _ in self.messages}


@dataclass
class Broker:
    """The private mosquitto and the probes connected to it (all pumped together)."""

    port: int
    out: Path
    probes: list[Probe] = field(default_factory=list)

    def pump(self, until: Callable[[], bool]) -> None:
        """Run every probe's network loop until ``until()`` holds; fail after WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while not until():
            assert time.monotonic() < deadline, "no answer from the broker in time"
            for probe in self.probes:
                probe.client.loop(timeout=0.01)

    def connect(self, user: str | None, password: str | None = None) -> Probe:
        """A probe logged in as ``user`` (with its generated credential unless ``password``)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"probe-{user}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if user is not None and password is None:
            login = BrokerConfig(username=user, password_file=self.out / "credentials" / user)
            configure_client(client, login)
        elif user is not None:
            client.username_pw_set(user, password)
        probe = Probe(client)

        def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
            probe.connack.append(rc)

        def on_subscribe(
            _c: mqtt.Client, _u: object, mid: int, rcs: list[ReasonCode], _p: object
        ) -> None:
            probe.subacks[mid] = rcs

        def on_publish(
            _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties
        ) -> None:
            probe.pubacks[mid] = rc

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            probe.messages.append((message.topic, message.payload))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_publish = on_publish
        client.on_message = on_message
        client.connect("127.0.0.1", self.port, keepalive=30)
        self.probes.append(probe)
        self.pump(lambda: bool(probe.connack))
        return probe

    def subscribe(self, probe: Probe, topic_filter: str) -> ReasonCode:
        _, mid = probe.client.subscribe(topic_filter, qos=1)
        self.pump(lambda: mid in probe.subacks)
        [code] = probe.subacks[mid]
        return code

    def publish(self, probe: Probe, topic: str, payload: bytes, retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = probe.client.publish(topic, payload, qos=1, retain=retain)
        self.pump(lambda: info.mid in probe.pubacks)
        return probe.pubacks[info.mid]

    def close(self) -> None:
        for probe in self.probes:
            probe.client.disconnect()
        self.pump(lambda: all(probe.client.socket() is None for probe in self.probes))


def write_lanes(folder: Path) -> list[Path]:
    """Lanes lane-a and lane-b of plaza p1, lane-c of plaza p2."""
    (folder / "plazas").mkdir(parents=True)
    (folder / "lanes").mkdir()
    for plaza in ["p1", "p2"]:
        (folder / "plazas" / f"{plaza}.toml").write_text(f'kind = "plaza"\nid = "{plaza}"\n')
    paths = []
    for lane, plaza in [("lane-a", "p1"), ("lane-b", "p1"), ("lane-c", "p2")]:
        path = folder / "lanes" / f"{lane}.toml"
        path.write_text(f'kind = "lane"\nid = "{lane}"\nplaza = "../plazas/{plaza}.toml"\n')
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """mosquitto running the generated mosquitto.conf as it is."""
    executable = program("mosquitto")
    folder = tmp_path_factory.mktemp("broker-config")
    port = free_port()
    lanes = read_lanes(write_lanes(folder))
    out = folder / "out"
    write_broker_config(lanes, out, central_users=CENTRAL_USERS, port=port, bind="127.0.0.1")
    # The fragment is included as a conf.d file is. Run as root, mosquitto would drop to
    # its own user before reading the password file, which pytest's 0700 tmp folders
    # keep from it; `user` keeps the test's own user (no effect when not root).
    main = folder / "main.conf"
    main.write_text(f"user {getpass.getuser()}\ninclude_dir {out}\n")
    log = (folder / "mosquitto.log").open("wb")
    proc = subprocess.Popen([executable, "-c", str(main)], stdout=log, stderr=log)
    log.close()
    try:
        wait_listening("127.0.0.1", port)
        yield port, out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def broker(mosquitto: tuple[int, Path]) -> Iterator[Broker]:
    port, out = mosquitto
    session = Broker(port, out)
    try:
        yield session
    finally:
        session.close()


def txn(lane: str, plaza: str = "p1") -> str:
    return lane_topic(plaza, lane, LaneTopic.TXN)


class TestLogin:
    """Only the generated users, with their own passwords, get in."""

    def test_every_user_logs_in_with_its_credential(self, broker: Broker) -> None:
        for user in [*CENTRAL_USERS, "lane-a", "lane-b", "lane-c"]:
            [code] = broker.connect(user).connack
            assert not code.is_failure, (user, code)

    @pytest.mark.parametrize(
        ("user", "password"),
        [("lane-a", "wrong-password-123456"), ("lane-a", ""), ("nobody", "x" * 32)],
    )
    def test_wrong_password_refused(self, broker: Broker, user: str, password: str) -> None:
        [code] = broker.connect(user, password).connack
        assert code.value in (NOT_AUTHORIZED, BAD_LOGIN), code

    def test_a_lane_password_is_not_centrals(self, broker: Broker) -> None:
        password = (broker.out / "credentials" / "lane-a").read_text()
        [code] = broker.connect("ingest", password).connack
        assert code.value in (NOT_AUTHORIZED, BAD_LOGIN), code

    def test_anonymous_refused(self, broker: Broker) -> None:
        [code] = broker.connect(None).connack
        assert code.value in (NOT_AUTHORIZED, BAD_LOGIN), code


class TestLaneConfinement:
    """A lane publishes only its own reports and reads only its own orders and config."""

    def test_own_reports_reach_central_through_a_shared_subscription(self, broker: Broker) -> None:
        ingest = broker.connect("ingest")
        plain = broker.connect("console")
        for kind in [LaneTopic.TXN, LaneTopic.STATE, LaneTopic.CMD_RESULT, LaneTopic.LOOKUP]:
            assert not broker.subscribe(ingest, shared("central", lane_filter(kind))).is_failure
        assert not broker.subscribe(plain, lane_filter(LaneTopic.EVENT)).is_failure
        lane = broker.connect("lane-a")
        sent = [
            (lane_topic("p1", "lane-a", LaneTopic.TXN), b"batch-1"),
            (lane_topic("p1", "lane-a", LaneTopic.STATE), b"online"),
            (lane_topic("p1", "lane-a", LaneTopic.CMD_RESULT), b"done"),
            (lane_topic("p1", "lane-a", LaneTopic.LOOKUP), b"entry of?"),
        ]
        for topic, payload in sent:
            assert not broker.publish(lane, topic, payload).is_failure
        event = lane_topic("p1", "lane-a", LaneTopic.EVENT)
        telemetry = lane_topic("p1", "lane-a", LaneTopic.TELEMETRY)
        assert not broker.publish(lane, event, b"alarm").is_failure
        assert not broker.publish(lane, telemetry, b"health").is_failure
        broker.pump(lambda: len(ingest.messages) == 4 and len(plain.messages) == 1)
        assert ingest.messages == sent
        assert plain.messages == [(event, b"alarm")]

    def test_publishing_on_other_topics_is_refused_and_not_delivered(self, broker: Broker) -> None:
        ingest = broker.connect("ingest")
        assert not broker.subscribe(ingest, shared("central", "lanewarden/v1/#")).is_failure
        victim = broker.connect("lane-b")
        for topic_filter in ["lanewarden/v1/p1/lane-b/#", plaza_config_topic("p1")]:
            assert not broker.subscribe(victim, topic_filter).is_failure
        assert not broker.subscribe(victim, NETWORK_CONFIG_TOPIC).is_failure
        forger = broker.connect("lane-a")
        forged = [
            txn("lane-b"),
            lane_topic("p1", "lane-b", LaneTopic.STATE),
            lane_topic("p1", "lane-b", LaneTopic.CMD),
            lane_topic("p1", "lane-b", LaneTopic.ACK),
            txn("lane-c", plaza="p2"),
            txn("lane-a", plaza="p2"),  # its own id under another plaza
            lane_topic("p1", "lane-a", LaneTopic.ACK),  # central's topics of its own lane
            lane_topic("p1", "lane-a", LaneTopic.CMD),
            lane_topic("p1", "lane-b", LaneTopic.LOOKUP),  # asking in another lane's name
            lane_topic("p1", "lane-a", LaneTopic.LOOKUP_REPLY),  # answering itself
            lane_topic("p1", "lane-b", LaneTopic.LOOKUP_REPLY),
            plaza_config_topic("p1"),
            NETWORK_CONFIG_TOPIC,
        ]
        for topic in forged:
            code = broker.publish(forger, topic, b"forged", retain=topic.endswith("state"))
            assert code.value == NOT_AUTHORIZED, (topic, code)
        # Markers after the refusals: whatever got through would have arrived first.
        own = txn("lane-a")
        assert not broker.publish(forger, own, b"marker").is_failure
        console = broker.connect("console")
        assert not broker.publish(
            console, lane_topic("p1", "lane-b", LaneTopic.CMD), b"m"
        ).is_failure
        broker.pump(lambda: bool(ingest.messages) and bool(victim.messages))
        assert ingest.messages == [(own, b"marker")]
        assert victim.messages == [(lane_topic("p1", "lane-b", LaneTopic.CMD), b"m")]
        # The refused retained state left nothing for a later subscriber either.
        late = broker.connect("ingest")
        assert not broker.subscribe(late, lane_filter(LaneTopic.STATE)).is_failure
        marker = lane_topic("p2", "lane-c", LaneTopic.STATE)
        other = broker.connect("lane-c")
        assert not broker.publish(other, marker, b"online", retain=True).is_failure
        broker.pump(lambda: bool(late.messages))
        assert late.messages == [(marker, b"online")]
        assert not broker.publish(other, marker, b"", retain=True).is_failure  # cleared

    def test_other_lanes_orders_and_plazas_are_not_read(self, broker: Broker) -> None:
        lane = broker.connect("lane-a")
        for topic_filter in [
            lane_topic("p1", "lane-b", LaneTopic.CMD),
            lane_filter(LaneTopic.ACK),
            "lanewarden/v1/+/config",
            NETWORK_CONFIG_TOPIC,
            lane_topic("p1", "lane-a", LaneTopic.CMD),
            lane_filter(LaneTopic.LOOKUP_REPLY, "p1"),  # every lane's answers
        ]:
            code = broker.subscribe(lane, topic_filter)
            # mosquitto 2.0 grants it and filters at delivery; a refusal is as good.
            assert code.value in (0, 1, NOT_AUTHORIZED), (topic_filter, code)
        console = broker.connect("console")
        reports = broker.connect("lane-b")
        secret = [
            lane_topic("p1", "lane-b", LaneTopic.CMD),
            lane_topic("p1", "lane-b", LaneTopic.ACK),
            lane_topic("p2", "lane-c", LaneTopic.ACK),
            lane_topic("p1", "lane-b", LaneTopic.LOOKUP_REPLY),
            plaza_config_topic("p2"),
        ]
        for topic in secret:
            assert not broker.publish(console, topic, b"not for lane-a").is_failure
        assert not broker.publish(reports, txn("lane-b"), b"b's batch").is_failure
        mine = [
            plaza_config_topic("p1"),
            NETWORK_CONFIG_TOPIC,
            lane_topic("p1", "lane-a", LaneTopic.ACK),
            lane_topic("p1", "lane-a", LaneTopic.CMD),
            lane_topic("p1", "lane-a", LaneTopic.LOOKUP_REPLY),
        ]
        for topic in mine:
            assert not broker.publish(console, topic, b"for lane-a").is_failure
        broker.pump(lambda: set(mine) <= lane.topics())
        assert lane.topics() == set(mine)
        assert all(payload == b"for lane-a" for _, payload in lane.messages)

    def test_central_cannot_speak_for_a_lane(self, broker: Broker) -> None:
        console = broker.connect("console")
        for kind in [LaneTopic.TXN, LaneTopic.STATE, LaneTopic.CMD_RESULT, LaneTopic.LOOKUP]:
            code = broker.publish(console, lane_topic("p1", "lane-a", kind), b"forged")
            assert code.value == NOT_AUTHORIZED, (kind, code)
