"""The shared [broker] section: no password in clear, secrets from files or credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from plumbing.broker import (
    BrokerConfig,
    BrokerSetupError,
    TlsConfig,
    configure_client,
    first_protocol,
    read_password,
    refused_mqtt5,
)


def client() -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)


class TestSection:
    """Refusals name the key and say what to do instead."""

    def test_defaults_are_a_local_anonymous_broker(self) -> None:
        config = BrokerConfig()
        assert (config.host, config.port, config.username, config.tls) == (
            "127.0.0.1",
            1883,
            None,
            None,
        )
        assert read_password(config, {}) is None

    def test_a_password_in_clear_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="password: a password is never written"):
            BrokerConfig.model_validate({"username": "central", "password": "hunter2"})

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            (
                {"username": "c", "password_file": "/p", "password_credential": "mqtt"},
                "give one of them, not both",
            ),
            ({"password_file": "/p"}, "username: required when a password is given"),
            ({"port": 0}, "port"),
            ({"protocol": "4"}, "protocol"),
            ({"password_credential": "../etc/shadow", "username": "c"}, "password_credential"),
        ],
    )
    def test_bad_section_is_named(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            BrokerConfig.model_validate(fields)

    def test_client_certificate_needs_its_key(self) -> None:
        with pytest.raises(ValidationError, match="cert_file and key_file: give both"):
            TlsConfig(ca_file=Path("/ca.pem"), cert_file=Path("/c.pem"))


class TestSecrets:
    """The password comes from its file or from $CREDENTIALS_DIRECTORY, first line only."""

    def test_password_file(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text("s3cret\n")
        config = BrokerConfig(username="central", password_file=tmp_path / "pw")
        assert read_password(config, {}) == "s3cret"

    def test_systemd_credential(self, tmp_path: Path) -> None:
        (tmp_path / "mqtt-password").write_text("from-systemd")
        config = BrokerConfig(username="central", password_credential="mqtt-password")
        assert read_password(config, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == "from-systemd"

    def test_credential_without_systemd_is_named(self) -> None:
        config = BrokerConfig(username="central", password_credential="mqtt-password")
        with pytest.raises(BrokerSetupError, match=r"broker.password_credential: .*not set"):
            read_password(config, {})

    def test_missing_file_is_named(self, tmp_path: Path) -> None:
        config = BrokerConfig(username="central", password_file=tmp_path / "nope")
        with pytest.raises(BrokerSetupError, match=r"broker.password_file: cannot read .*nope"):
            read_password(config, {})

    def test_empty_file_is_named(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text("")
        config = BrokerConfig(username="central", password_file=tmp_path / "pw")
        with pytest.raises(BrokerSetupError, match=r"broker.password_file: .* is empty"):
            read_password(config, {})


class TestClient:
    """configure_client logs in with the secret and refuses unusable TLS files."""

    def test_login_is_set(self, tmp_path: Path) -> None:
        (tmp_path / "pw").write_text("s3cret\n")
        paho = client()
        configure_client(paho, BrokerConfig(username="lane-1", password_file=tmp_path / "pw"), {})
        assert (paho.username, paho.password) == ("lane-1", "s3cret")

    def test_missing_ca_file_is_named(self, tmp_path: Path) -> None:
        config = BrokerConfig(tls=TlsConfig(ca_file=tmp_path / "ca.pem"))
        with pytest.raises(BrokerSetupError, match=r"broker.tls: cannot load .*ca.pem"):
            configure_client(client(), config, {})


class TestProtocol:
    """auto connects with MQTT 5 first; a CONNACK "unsupported protocol version" says it is refused."""

    @pytest.mark.parametrize(("asked", "first"), [("auto", "5"), ("5", "5"), ("3.1.1", "3.1.1")])
    def test_first_protocol(self, asked: str, first: str) -> None:
        assert first_protocol(BrokerConfig.model_validate({"protocol": asked})) == first

    def test_only_unsupported_protocol_version_is_a_refusal_of_mqtt5(self) -> None:
        assert refused_mqtt5(ReasonCode(PacketTypes.CONNACK, identifier=0x84))
        assert not refused_mqtt5(ReasonCode(PacketTypes.CONNACK, identifier=0x87))  # not authorised
        assert not refused_mqtt5(ReasonCode(PacketTypes.CONNACK, identifier=0))
