"""The ``[broker]`` section both sides share: where the MQTT broker is and how to log in.

A lane and central connect the same way: host and port, TLS with a CA (and a client
certificate for mutual TLS), a username and a password. The password is never
written in a configuration file: it is read at start from ``password_file`` or from
a systemd credential (``LoadCredential=`` puts it in ``$CREDENTIALS_DIRECTORY``), so
that config files can be world-readable and kept in version control.
:func:`configure_client` applies a section to a paho client.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import Field, model_validator

from contracts.schema import ConfigModel

Protocol = Literal["auto", "5", "3.1.1"]
UNSUPPORTED_PROTOCOL = 0x84
"""CONNACK reason: the broker does not speak the MQTT version asked for (an MQTT 3.1.1
broker such as amqtt answers an MQTT 5 CONNECT so; paho reports it with this code)."""
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


class BrokerSetupError(Exception):
    """A file the section names (password, credential, TLS) cannot be used; names the key."""


class TlsConfig(ConfigModel):
    """TLS to the broker: the CA that signed its certificate, and our own for mutual TLS."""

    ca_file: Path = Field(
        title="CA file",
        description="PEM file of the certificate authority the broker's certificate is checked "
        "against.",
    )
    cert_file: Path | None = Field(
        None,
        title="Client certificate",
        description="PEM client certificate, for brokers that require mutual TLS.",
    )
    key_file: Path | None = Field(
        None,
        title="Client key",
        description="PEM private key of the client certificate (readable by the service only).",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file: give both (mutual TLS) or neither")
        return self


class BrokerConfig(ConfigModel):
    """Where the MQTT broker listens and how this process logs in to it."""

    host: str = Field(
        "127.0.0.1", min_length=1, title="Host", description="Broker host name or address."
    )
    port: int = Field(
        1883, ge=1, le=65535, title="Port", description="Broker port (1883 plain, 8883 TLS)."
    )
    protocol: Protocol = Field(
        "auto",
        title="Protocol",
        description="MQTT version: 5, 3.1.1, or auto (5, falling back to 3.1.1 when the broker "
        "refuses it).",
    )
    keepalive_s: int = Field(
        30,
        ge=5,
        le=3600,
        title="Keep-alive",
        description="Seconds between pings; the broker declares us gone after 1.5 times this.",
    )
    tls: TlsConfig | None = Field(
        None, title="TLS", description="TLS to the broker; absent: plain TCP (loopback only)."
    )
    username: str | None = Field(
        None, min_length=1, title="Username", description="Login name; absent: anonymous."
    )
    password_file: Path | None = Field(
        None,
        title="Password file",
        description="File holding the password (its first line), readable by the service only.",
    )
    password_credential: str | None = Field(
        None,
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
        title="Password credential",
        description="Name of a systemd credential (LoadCredential=NAME:...) holding the password, "
        f"read from ${CREDENTIALS_ENV}/NAME.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_clear(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "password" in data:
            raise ValueError(
                "password: a password is never written in the config file; name a file "
                "(password_file) or a systemd credential (password_credential)"
            )
        return data

    @model_validator(mode="after")
    def _one_password_source(self) -> Self:
        if self.password_file is not None and self.password_credential is not None:
            raise ValueError("password_file and password_credential: give one of them, not both")
        has_password = self.password_file is not None or self.password_credential is not None
        if has_password and self.username is None:
            raise ValueError("username: required when a password is given")
        return self


def read_password(config: BrokerConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The password the section names, or None; :class:`BrokerSetupError` naming the key."""
    env = os.environ if environ is None else environ
    if config.password_credential is not None:
        directory = env.get(CREDENTIALS_ENV)
        if not directory:
            raise BrokerSetupError(
                f"broker.password_credential: {config.password_credential!r} needs "
                f"${CREDENTIALS_ENV} (set by systemd's LoadCredential=), which is not set"
            )
        key, path = "broker.password_credential", Path(directory) / config.password_credential
    elif config.password_file is not None:
        key, path = "broker.password_file", config.password_file
    else:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BrokerSetupError(f"{key}: cannot read {path}: {reason}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise BrokerSetupError(f"{key}: {path} is empty")
    return password


def paho_protocol(version: Literal["5", "3.1.1"]) -> MQTTProtocolVersion:
    return mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311


def first_protocol(config: BrokerConfig) -> Literal["5", "3.1.1"]:
    """The version to connect with first: 3.1.1 only when asked; ``auto`` tries 5 first."""
    return "3.1.1" if config.protocol == "3.1.1" else "5"


def refused_mqtt5(reason: ReasonCode) -> bool:
    """Whether a CONNACK ``reason`` says the broker does not speak MQTT 5."""
    return reason.is_failure and reason.value == UNSUPPORTED_PROTOCOL


def configure_client(
    client: mqtt.Client, config: BrokerConfig, environ: Mapping[str, str] | None = None
) -> None:
    """Set TLS and the login of ``config`` on ``client`` (before it connects)."""
    tls = config.tls
    if tls is not None:
        try:
            client.tls_set(
                ca_certs=str(tls.ca_file),
                certfile=None if tls.cert_file is None else str(tls.cert_file),
                keyfile=None if tls.key_file is None else str(tls.key_file),
            )
        except (OSError, ssl.SSLError) as exc:
            files = ", ".join(str(f) for f in (tls.ca_file, tls.cert_file, tls.key_file) if f)
            raise BrokerSetupError(f"broker.tls: cannot load {files}: {exc}") from None
    if config.username is not None:
        client.username_pw_set(config.username, read_password(config, environ))
