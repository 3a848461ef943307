"""Gateway and payment policy configuration: validation and error messages."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.gateway.transport import HttpTransport
from edge.payments.config import GatewayConfig, Method, PaymentPolicy, RetryConfig
from edge.payments.gateway import GatewayClient

BASE = {"base_url": "http://127.0.0.1:8090", "merchant_id": "m1"}


def gateway(**changes: Any) -> GatewayConfig:
    return GatewayConfig.model_validate(BASE | {"secret_env": "LW_GATEWAY_SECRET"} | changes)


class TestGatewayConfig:
    """The secret comes from exactly one place and is read only when asked for."""

    def test_secret_from_environment(self) -> None:
        assert gateway().secret_bytes({"LW_GATEWAY_SECRET": "s3"}) == b"s3"

    def test_secret_value(self) -> None:
        config = GatewayConfig.model_validate(BASE | {"secret": "s4"})
        assert config.secret_bytes({}) == b"s4"
        assert "s4" not in repr(config)

    def test_unset_variable_is_named(self) -> None:
        with pytest.raises(ValueError, match="secret_env: environment variable LW_GATEWAY_SECRET"):
            gateway().secret_bytes({})

    @pytest.mark.parametrize(
        "secrets", [{}, {"secret": "a", "secret_env": "B"}], ids=["none", "both"]
    )
    def test_exactly_one_secret(self, secrets: dict[str, str]) -> None:
        with pytest.raises(ValidationError, match="secret, secret_env: give exactly one"):
            GatewayConfig.model_validate(BASE | secrets)

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("base_url", "ftp://x", "base_url"),
            ("currency", "yuan", "currency"),
            ("read_timeout_s", 0, "read_timeout_s"),
            ("query_schedule_s", [], "query_schedule_s"),
            ("query_schedule_s", [1, 0], "query_schedule_s: every pause must be positive"),
            ("retry", {"attempts": 0}, "retry.attempts"),
            ("callback", {"path": "notify"}, "callback.path"),
            ("colour", "red", "colour"),
        ],
    )
    def test_bad_values_are_named(self, key: str, value: object, message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            gateway(**{key: value})

    def test_client_from_config(self) -> None:
        client = GatewayClient.from_config(
            gateway(base_url="https://pay.example.com/api/"), {"LW_GATEWAY_SECRET": "s"}
        )
        assert client.base_path == "/api"
        assert isinstance(client.transport, HttpTransport)
        assert client.transport.scheme == "https"

    def test_transport_refuses_a_bad_url(self) -> None:
        with pytest.raises(ValueError, match="base_url: expected http"):
            HttpTransport("pay.example.com", 1, 1)


class TestRetryConfig:
    """Back-off doubles up to its cap."""

    def test_delays(self) -> None:
        retry = RetryConfig(attempts=5, backoff_s=0.5, backoff_max_s=1.5)
        assert [retry.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, 1.5]


class TestPolicy:
    """Methods are listed once each."""

    def test_default_order(self) -> None:
        assert PaymentPolicy().methods == (Method.PERMIT, Method.PREPAID, Method.QR)

    def test_repeated_method_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="methods: each method at most once"):
            PaymentPolicy.model_validate({"methods": ["qr", "qr"]})

    def test_unknown_method_is_refused(self) -> None:
        with pytest.raises(ValidationError, match=r"methods\.0"):
            PaymentPolicy.model_validate({"methods": ["cash"]})
