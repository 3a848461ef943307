"""Bundles for the config push tests: the bridge lane's flat tariff with versions of our choosing.

The bridge lane (config/lanes/bridge-1.toml) prices with ``bridge-flat``: version 1,
in force since 2026-01-01, charges a class 1 vehicle 1000 fen. This module holds no tests.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.mqtt.payloads import ConfigBundle
from contracts.network import Network
from contracts.tariff import Tariff
from edge.fees.engine import quote
from edge.fees.passage import Passage

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"
BRIDGE_LANE = CONFIG / "lanes" / "bridge-1.toml"
PLAZA = "bridge"
LANE = "bridge-1"
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
ISSUED = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


def toml(relative: str) -> dict[str, Any]:
    return tomllib.loads((CONFIG / relative).read_text(encoding="utf-8"))


def flat(*versions: tuple[int, str, int], **top: Any) -> Tariff:
    """``bridge-flat`` with versions (number, local effective_from, class 1 fee)."""
    data = toml("tariffs/bridge-flat.toml")
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


FILE_VERSION = (1, "2026-01-01T00:00:00", 1000)
"""Version 1 as the tariff file has it."""


def highway() -> Tariff:
    return Tariff.model_validate(toml("tariffs/g60-highway.toml"))


def network() -> Network:
    return Network.model_validate(toml("plazas/g60-network.toml"))


def bundle(version: int, *, plaza_id: str | None = PLAZA, **fields: Any) -> bytes:
    return ConfigBundle(plaza_id=plaza_id, version=version, issued_at=ISSUED, **fields).to_bytes()


def class1_fee(compiled: Any, at: datetime = NOW) -> int:
    """What a class 1 vehicle pays at the bridge at ``at``."""
    fee = quote(compiled, Passage(exit=at, vehicle_class=1, exit_plaza=PLAZA))
    return fee.total
