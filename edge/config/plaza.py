"""A plaza (toll plaza or car park site): the lanes that share a place, a time zone and a currency."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from contracts.ids import PlazaId
from contracts.schema import ConfigModel


class PlazaConfig(ConfigModel):
    kind: str = Field("plaza", pattern="^plaza$", title="Kind", description="Always `plaza`.")
    id: PlazaId = Field(
        title="Plaza id",
        description="Short id used in MQTT topics and records (lower case, digits, - and _).",
    )
    name: str = Field(title="Name", description="Name shown to supervisors.")
    timezone: str = Field(
        title="Time zone",
        description="IANA time zone in which tariffs are evaluated, e.g. `Asia/Shanghai`.",
    )
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        title="Currency",
        description="ISO 4217 code; all amounts are integers of its minor unit.",
    )
    lanes: list[str] = Field(
        min_length=1, title="Lanes", description="Ids of the lanes of this plaza."
    )
    network: str | None = Field(
        None,
        title="Network file",
        description="For highway plazas: path (relative to this file) of the network file "
        "that holds the distances between plazas.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
