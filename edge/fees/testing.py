"""Tariff builders and quotes for tests and commissioning of the fee engine.

Public API (as ``structlog.testing`` is): lanewarden's tests build their tariffs
here, and a technician checking a tariff file can use the same helpers to quote
passages at chosen local times. Two families:

- builders of a tariff's data from small pieces (:func:`tariff_data`,
  :func:`parking`, :func:`cls`, :func:`band`), compiled by :func:`compiled` and
  quoted by :func:`price` / :func:`total` at local times (:func:`at`);
- the shipped bridge lane's flat tariff (``config/tariffs/bridge-flat.toml``) with
  versions of the caller's choosing, wrapped in configuration bundles as central
  pushes them (:func:`flat`, :func:`bridge_bundle`, :func:`class1_fee`). Version 1,
  in force since 2026-01-01, charges a class 1 vehicle 1000 fen.

Nothing here imports pytest; the builders raise the models' own validation errors.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contracts.mqtt.payloads import ConfigBundle
from contracts.network import Network
from contracts.tariff import Tariff
from edge.fees.engine import CompiledTariff, compile_tariff, quote
from edge.fees.passage import Fee, FeeQuery

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A local time in ``zone``: ``at("2026-03-02 09:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def tariff_data(*versions: Mapping[str, Any], **top: Any) -> dict[str, Any]:
    """A tariff file's data; each version defaults to number i+1 from 2026-01-01 local."""
    return {
        "kind": "tariff",
        "id": "test",
        "name": "Test tariff",
        "currency": "CNY",
        "timezone": "Asia/Shanghai",
        "versions": [
            {"version": i + 1, "effective_from": "2026-01-01T00:00:00", **v}
            for i, v in enumerate(versions)
        ],
        **top,
    }


def compiled(
    *versions: Mapping[str, Any], networks: Mapping[str, Network] | None = None, **top: Any
) -> CompiledTariff:
    """:func:`tariff_data` validated and compiled, as a lane loads a tariff file."""
    return compile_tariff(Tariff.model_validate(tariff_data(*versions, **top)), networks)


def band(name: str, start: str, end: str, **prices: Any) -> dict[str, Any]:
    """A time band from ``start`` to ``end`` (local ``HH:MM``) with its prices."""
    return {"name": name, "start": start, "end": end, **prices}


DAY_NIGHT = [
    band("day", "08:00", "20:00", unit_price=200),
    band("night", "20:00", "08:00", unit_minutes=60, unit_price=100),
]
"""Day 2.00 per 30 min from 08:00 to 20:00, night 1.00 per hour; prices in fen."""


def cls(**table: Any) -> dict[str, Any]:
    """A parking class: DAY_NIGHT in 30 min units unless overridden."""
    return {"unit_minutes": 30, "bands": DAY_NIGHT, "lost_ticket_fee": 5000, **table}


def parking(
    classes: Mapping[int, Mapping[str, Any]] | None = None, **scheme: Any
) -> dict[str, Any]:
    """A parking version; class 1 defaults to :func:`cls`."""
    return {"parking": {"classes": classes or {1: cls()}, **scheme}}


def price(tariff: CompiledTariff, entry: str | None, exit_: str, **passage: Any) -> Fee:
    """The fee of a passage between two local times (``entry`` None: no entry known)."""
    zone = tariff.clock.tz
    return quote(
        tariff,
        FeeQuery(entry=None if entry is None else at(entry, zone), exit=at(exit_, zone), **passage),
    )


def total(tariff: CompiledTariff, entry: str | None, exit_: str, **passage: Any) -> int:
    """:func:`price`'s total, in minor units."""
    return price(tariff, entry, exit_, **passage).total


CONFIG = Path(__file__).resolve().parents[2] / "config"
"""The shipped example configuration of a source checkout."""
BRIDGE_LANE = CONFIG / "lanes" / "bridge-1.toml"
BRIDGE_PLAZA = "bridge"
BRIDGE_LANE_ID = "bridge-1"
BRIDGE_NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
"""10:00 in Asia/Shanghai: version 1 is in force."""
ISSUED = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
FILE_VERSION = (1, "2026-01-01T00:00:00", 1000)
"""Version 1 of ``bridge-flat`` as the tariff file has it: (number, local start, class 1 fee)."""


def config_file(relative: str) -> dict[str, Any]:
    """A shipped configuration file's data (``relative`` to ``config/``)."""
    return tomllib.loads((CONFIG / relative).read_text(encoding="utf-8"))


def flat(*versions: tuple[int, str, int], **top: Any) -> Tariff:
    """``bridge-flat`` with versions (number, local effective_from, class 1 fee)."""
    data = config_file("tariffs/bridge-flat.toml")
    template = data["versions"][0]
    data["versions"] = [
        {
            **template,
            "version": number,
            "effective_from": datetime.fromisoformat(start),
            "flat": {"classes": {**template["flat"]["classes"], "1": fee}},
        }
        for number, start, fee in versions
    ]
    return Tariff.model_validate(data | top)


def highway() -> Tariff:
    """The shipped G60 highway tariff."""
    return Tariff.model_validate(config_file("tariffs/g60-highway.toml"))


def network() -> Network:
    """The shipped G60 network (its plazas and distances)."""
    return Network.model_validate(config_file("plazas/g60-network.toml"))


def bridge_bundle(version: int, *, plaza_id: str | None = BRIDGE_PLAZA, **fields: Any) -> bytes:
    """A configuration bundle as central publishes it, for the bridge plaza by default."""
    return ConfigBundle(plaza_id=plaza_id, version=version, issued_at=ISSUED, **fields).to_bytes()


def class1_fee(tariff: CompiledTariff, when: datetime = BRIDGE_NOW) -> int:
    """What a class 1 vehicle pays at the bridge at ``when``."""
    return quote(tariff, FeeQuery(exit=when, vehicle_class=1, exit_plaza=BRIDGE_PLAZA)).total
