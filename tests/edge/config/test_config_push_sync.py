"""Config push end to end: central publishes a bundle retained, a running lane's quotes change.

A lane daemon with a [sync] section runs against the real broker; central's publisher
(:mod:`central.config_publish`) puts a bundle with a new tariff version on the plaza's
config topic. The lane applies it, its next quote uses the new version, its retained
state says the version in force, and central hears ``config_applied``. A bundle with a
tariff in another currency is then refused: ``config_refused`` reaches central and the
lane keeps quoting as before. Restarted with no broker, the lane still quotes with the
tariff central sent (kept in its store), not with its tariff file.
"""

from __future__ import annotations

import asyncio
import copy
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import MqttBroker, free_port
from paho.mqtt.enums import CallbackAPIVersion
from paths import REPO

from central.config_publish import publish_bundle
from contracts.mqtt.payloads import ConfigBundle
from contracts.mqtt.topics import NETWORK_CONFIG_TOPIC, plaza_config_topic
from contracts.tariff import Tariff
from edge.config.lane import load_lane
from edge.daemon.testing import lane_files
from edge.fees.engine import compile_tariff, quote
from edge.fees.passage import FeeQuery
from edge.sync.testing import PLAZA, central, sync_section
from fleet.testing import FakeLane
from plumbing.broker import BrokerConfig


def riverside_with_version_3(**top: Any) -> Tariff:
    """The shipped Riverside tariff plus a version 3, a minute old, whose first hour costs more."""
    data = tomllib.loads((REPO / "config/tariffs/riverside-parking.toml").read_text())
    third = copy.deepcopy(data["versions"][-1])
    third["version"] = 3
    third["effective_from"] = datetime.now(UTC) - timedelta(minutes=1)
    third["parking"]["classes"]["1"]["first_period_price"] += 300
    data["versions"].append(third)
    return Tariff.model_validate(data | top)


def one_hour_stay() -> FeeQuery:
    now = datetime.now(UTC)
    return FeeQuery(exit=now, entry=now - timedelta(minutes=50), vehicle_class=1)


def lane_fee(lane: FakeLane) -> int:
    """What the running lane charges for a 50-minute stay now, by its pricing in force."""
    compiled = lane.daemon.pricing.compiled
    assert compiled is not None
    return quote(compiled, one_hour_stay()).total


@pytest.fixture
def clean_config(mqtt_broker: MqttBroker) -> Iterator[None]:
    """The session's broker keeps retained bundles: none before the test, none after it."""
    clear(mqtt_broker)
    yield
    clear(mqtt_broker)


def clear(broker: MqttBroker) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic in (plaza_config_topic(PLAZA), NETWORK_CONFIG_TOPIC):
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.usefixtures("clean_config")
class TestConfigPush:
    """A new tariff reaches a running lane; an invalid one is refused, the old one stays."""

    def test_new_tariff_changes_quotes_and_a_bad_one_is_refused(
        self, mqtt_broker: MqttBroker, tmp_path: Path
    ) -> None:
        broker = BrokerConfig(host=mqtt_broker.host, port=mqtt_broker.port, protocol="3.1.1")
        lane = FakeLane(load_lane(lane_files(tmp_path, extra=sync_section(mqtt_broker))))
        good = riverside_with_version_3()
        expected = quote(compile_tariff(good), one_hour_stay()).total

        def events(kind: str) -> list[Any]:
            with fake.lock:
                return [r for r in fake.got.records["event"].values() if r.kind == kind]

        async def scenario() -> None:
            await lane.start()
            try:
                daemon = lane.daemon
                before = lane_fee(lane)
                assert before != expected
                await lane.settle(lambda: bool(fake.got.states), "the lane's state")
                bundle = ConfigBundle(
                    plaza_id=PLAZA, version=3, issued_at=datetime.now(UTC), tariffs=(good,)
                )
                await asyncio.to_thread(publish_bundle, broker, bundle)
                await lane.settle(lambda: bool(events("config_applied")), "config_applied")
                assert lane_fee(lane) == expected
                await lane.settle(
                    lambda: fake.got.states[-1].config_version == 3, "state with version 3"
                )
                assert fake.got.states[-1].tariffs == {"riverside-parking": 3}

                bad = ConfigBundle(
                    plaza_id=PLAZA,
                    version=4,
                    issued_at=datetime.now(UTC),
                    tariffs=(riverside_with_version_3(currency="EUR"),),
                )
                await asyncio.to_thread(publish_bundle, broker, bad)
                await lane.settle(lambda: bool(events("config_refused")), "config_refused")
                assert lane_fee(lane) == expected
                assert daemon.config_push.version_in_force == 3
            finally:
                await lane.daemon.stop()

        with central(mqtt_broker.host, mqtt_broker.port) as fake:
            asyncio.run(scenario())
        (applied,) = events("config_applied")
        assert (applied.detail["version"], applied.detail["tariff_version"]) == (3, 3)
        (refused,) = events("config_refused")
        assert (refused.detail["version"], refused.detail["reason"]) == (4, "currency")
        assert "EUR" in str(refused.detail["problem"])
        assert fake.got.states[-1].config_version == 3
        self._restart_offline(tmp_path, expected)

    def _restart_offline(self, tmp_path: Path, expected: int) -> None:
        """Restarted with no broker at all, the lane prices with the stored tariff, not the file."""
        nowhere = f'[sync.broker]\nhost = "127.0.0.1"\nport = {free_port()}\nkeepalive_s = 5\n'
        lane = FakeLane(load_lane(lane_files(tmp_path, extra=nowhere)))

        async def scenario() -> None:
            await lane.start()
            try:
                assert lane_fee(lane) == expected
                assert lane.daemon.config_push.version_in_force == 3
            finally:
                await lane.daemon.stop()

        asyncio.run(scenario())
