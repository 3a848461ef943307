"""Central's config publisher: bundles built from files as lanes read them, published retained."""

from __future__ import annotations

import argparse
import json
import queue
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import MqttBroker, free_port
from paho.mqtt.enums import CallbackAPIVersion
from paths import REPO

from central.commands import config_publish as command
from central.config_publish import (
    BundleFiles,
    BundleInputError,
    PublishError,
    build_bundle,
    publish_bundle,
)
from contracts.mqtt.payloads import ConfigBundle, parse_payload
from contracts.mqtt.topics import plaza_config_topic
from plumbing.broker import BrokerConfig
from plumbing.cli import Groups

TARIFF = REPO / "config/tariffs/bridge-flat.toml"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PLAZA = "cfgpush-test"  # a plaza of this test alone: the session's broker keeps retained messages


def build(**files: Any) -> ConfigBundle:
    return build_bundle(BundleFiles(**files), plaza_id="bridge", version=2, issued_at=NOW)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lanewarden")
    command.register(Groups(top.add_subparsers(dest="command")))
    return top


class TestBuild:
    """A bundle holds what the files say; every wrong file and row is named."""

    def test_tariff_lists_and_accounts(self, tmp_path: Path) -> None:
        permits = tmp_path / "permits.csv"
        permits.write_text("plate,valid_until,note\n京A12345,2027-01-01T00:00:00+08:00,staff\n")
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("account_id,currency,balance,plates\nacc-1,CNY,5000,京B1 京B2\n")
        bundle = build(tariffs=[TARIFF], permits=permits, accounts=accounts, lanes=["bridge-1"])
        assert [t.id for t in bundle.tariffs] == ["bridge-flat"]
        assert bundle.permits is not None
        assert bundle.permits[0].note == "staff"
        assert bundle.accounts is not None
        assert bundle.accounts[0].plates == ("京B1", "京B2")
        assert bundle.whitelist is None, "not given: the lanes keep theirs"
        assert bundle.lanes == ("bridge-1",)

    def test_a_bad_tariff_file_is_named_with_its_field(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.toml"
        bad.write_text(TARIFF.read_text().replace('currency = "CNY"', 'currency = "yuan"'))
        with pytest.raises(BundleInputError) as caught:
            build(tariffs=[bad, TARIFF, TARIFF])
        text = "\n".join(caught.value.problems)
        assert f"{bad}: currency" in text
        assert "tariff bridge-flat given twice" in text

    def test_bad_csv_rows_name_file_and_line(self, tmp_path: Path) -> None:
        blacklist = tmp_path / "black.csv"
        blacklist.write_text("plate,colour\n京A12345,red\n")
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("account_id,currency,balance\nacc-1,CNY,lots\nacc-2,cny,5\n")
        with pytest.raises(BundleInputError) as caught:
            build(blacklist=blacklist, accounts=accounts)
        text = "\n".join(caught.value.problems)
        assert f"{blacklist}:2: unknown column(s) colour" in text
        assert f"{accounts}:2: balance: 'lots' is not a whole number" in text
        assert f"{accounts}:3: currency" in text

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(BundleInputError, match=r"missing\.toml: file not found"):
            build(tariffs=[tmp_path / "missing.toml"])


class TestCommand:
    """``lanewarden central config publish``: checks, publishes, says what it did."""

    def test_dry_run_checks_and_publishes_nothing(self, capsys: pytest.CaptureFixture[str]) -> None:
        args = parser().parse_args(
            [
                "central",
                "config",
                "publish",
                "--broker",
                "127.0.0.1:1",
                "--plaza",
                "bridge",
                "--tariff",
                str(TARIFF),
                "--version",
                "3",
                "--dry-run",
            ]
        )
        assert args.func(args) == 0
        out = capsys.readouterr().out
        assert "checked, not published: lanewarden/v1/bridge/config" in out
        assert "tariffs bridge-flat (v1)" in out

    def test_a_bad_file_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        args = parser().parse_args(
            [
                "central",
                "config",
                "publish",
                "--broker",
                "127.0.0.1",
                "--network-wide",
                "--tariff",
                str(tmp_path / "nope.toml"),
                "--version",
                "3",
            ]
        )
        assert args.func(args) == command.EXIT_BAD_INPUT
        assert "nope.toml: file not found" in capsys.readouterr().err

    def test_no_broker_exits_69(self, capsys: pytest.CaptureFixture[str]) -> None:
        args = parser().parse_args(
            [
                "central",
                "config",
                "publish",
                "--broker",
                f"127.0.0.1:{free_port()}",
                "--plaza",
                "bridge",
                "--version",
                "3",
                "--timeout",
                "2",
            ]
        )
        assert args.func(args) == command.EXIT_UNAVAILABLE
        assert "cannot connect" in capsys.readouterr().err

    @pytest.mark.parametrize("version", ["0", "two"])
    def test_version_must_be_a_positive_number(self, version: str) -> None:
        with pytest.raises(SystemExit):
            parser().parse_args(
                [
                    "central",
                    "config",
                    "publish",
                    "--broker",
                    "h",
                    "--plaza",
                    "p",
                    "--version",
                    version,
                ]
            )


class TestPublish:
    """The bundle is retained on the plaza's topic: a lane connecting later reads it."""

    def test_retained_for_a_later_subscriber(self, mqtt_broker: MqttBroker) -> None:
        broker = BrokerConfig(host=mqtt_broker.host, port=mqtt_broker.port)
        bundle = build_bundle(
            BundleFiles(tariffs=[TARIFF]), plaza_id=PLAZA, version=7, issued_at=NOW
        )
        topic = publish_bundle(broker, bundle)
        assert topic == plaza_config_topic(PLAZA)
        got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        client.on_message = lambda _c, _u, message: got.put(message)
        client.connect(mqtt_broker.host, mqtt_broker.port)
        client.loop_start()
        try:
            client.subscribe(topic, qos=1)
            message = got.get(timeout=10)
            assert message.retain
            parsed = parse_payload(ConfigBundle, bytes(message.payload), plaza_id=PLAZA)
            assert parsed == bundle
            assert json.loads(message.payload)["version"] == 7
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()

    def test_unreachable_broker(self) -> None:
        broker = BrokerConfig(host="127.0.0.1", port=free_port())
        bundle = build_bundle(BundleFiles(), plaza_id=PLAZA, version=1, issued_at=NOW)
        with pytest.raises(PublishError, match="cannot connect"):
            publish_bundle(broker, bundle, timeout_s=2)
