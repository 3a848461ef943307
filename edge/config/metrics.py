"""The lane's Prometheus metrics endpoint."""

from __future__ import annotations

from ipaddress import ip_address

from pydantic import Field, field_validator

from contracts.schema import ConfigModel


class MetricsConfig(ConfigModel):
    """Where the lane serves its Prometheus metrics (plain HTTP, so loopback by default)."""

    enabled: bool = Field(True, title="Enabled", description="Serve Prometheus metrics over HTTP.")
    host: str = Field(
        "127.0.0.1",
        title="Listen address",
        description="IP address to listen on; 127.0.0.1 keeps the metrics on the lane "
        "computer (a local Prometheus agent or an SSH tunnel scrapes them).",
    )
    port: int = Field(
        9480,
        ge=0,
        le=65535,
        title="Port",
        description="TCP port of the metrics endpoint (0 picks a free one).",
    )

    @field_validator("host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        try:
            ip_address(value)
        except ValueError:
            raise ValueError(f"not an IP address: {value!r}") from None
        return value
