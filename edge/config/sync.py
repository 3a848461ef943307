"""How a lane reaches central: the MQTT broker, its credentials and the outbox's pace.

A lane file without a ``[sync]`` section does not sync: the lane works on its
own, as a lane always can, and keeps every record for a later sync.

The broker's password is never written in the lane file: it is read from a file
(``password_file``) or a systemd credential (``password_credential``, a name under
``$CREDENTIALS_DIRECTORY``, from ``LoadCredential=`` in the unit). A lane file
that has a ``password`` is refused, saying where the password goes instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from contracts.mqtt.payloads import MAX_BATCH
from contracts.schema import ConfigModel

CREDENTIALS_VARIABLE = "CREDENTIALS_DIRECTORY"


class SyncCredentialError(Exception):
    """The broker password cannot be read; the message names the file or credential."""


class TlsConfig(ConfigModel):
    """TLS to the broker: the CA that signed it, and the lane's own certificate if it has one."""

    ca_file: Path = Field(title="CA file", description="PEM file of the CA that signs the broker.")
    cert_file: Path | None = Field(
        None, title="Client certificate", description="PEM certificate of this lane, if used."
    )
    key_file: Path | None = Field(
        None, title="Client key", description="PEM private key of that certificate."
    )

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file, key_file: give both or neither")
        return self


class SyncConfig(ConfigModel):
    """The MQTT broker this lane syncs through, and how the outbox paces its records."""

    host: str = Field(min_length=1, title="Broker host", description="Host name or IP address.")
    port: int = Field(1883, ge=1, le=65535, title="Broker port", description="8883 with TLS.")
    tls: TlsConfig | None = Field(None, title="TLS", description="Absent: plain TCP.")
    username: str | None = Field(
        None, min_length=1, title="Username", description="The lane's broker user, if any."
    )
    password_file: Path | None = Field(
        None, title="Password file", description="File holding the broker password (one line)."
    )
    password_credential: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        title="Password credential",
        description="Name of a systemd credential ($CREDENTIALS_DIRECTORY/<name>) holding it.",
    )
    keepalive_s: int = Field(
        30, ge=5, le=3600, title="Keepalive", description="MQTT keepalive in seconds."
    )
    batch_size: int = Field(
        500, ge=1, le=MAX_BATCH, title="Batch size", description="Records in one message."
    )
    window: int = Field(
        8, ge=1, le=64, title="Window", description="Batches per stream sent but not yet acked."
    )
    resend_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        title="Resend timeout",
        description="Unacked records are sent again after this; doubled at each try.",
    )
    resend_max_s: float = Field(
        300.0, gt=0, title="Resend ceiling", description="The longest wait between two tries."
    )
    telemetry_s: float = Field(
        5.0, gt=0, le=3600, title="Telemetry period", description="Seconds between two reports."
    )
    poll_s: float = Field(
        0.2,
        gt=0,
        le=10,
        title="Poll period",
        description="How often the outbox looks for new records when not woken sooner.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_clear_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "password: a password in clear in the lane file is refused; put it in a "
                "file (password_file) or a systemd credential (password_credential)"
            )
        return data

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password_file is not None and self.password_credential is not None:
            raise ValueError("password_file, password_credential: give one of them, not both")
        if self.username is None and (self.password_file or self.password_credential):
            raise ValueError("username: required when a password is given")
        if self.resend_max_s < self.resend_timeout_s:
            raise ValueError("resend_max_s: must not be below resend_timeout_s")
        return self

    def read_password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The broker password from its file or credential; None when none is configured."""
        environ = os.environ if environ is None else environ
        if self.password_credential is not None:
            folder = environ.get(CREDENTIALS_VARIABLE)
            if not folder:
                raise SyncCredentialError(
                    f"sync.password_credential: {CREDENTIALS_VARIABLE} is not set "
                    f"(LoadCredential={self.password_credential}:... in the unit)"
                )
            return _read_secret(
                Path(folder) / self.password_credential,
                f"sync.password_credential {self.password_credential}",
            )
        if self.password_file is not None:
            return _read_secret(self.password_file, "sync.password_file")
        return None


def _read_secret(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncCredentialError(f"{what}: cannot read {path}: {exc}") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise SyncCredentialError(f"{what}: {path} is empty")
    return secret
