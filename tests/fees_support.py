"""Builders shared by the fee engine tests (tests/test_fees_*.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts.network import Network
from contracts.tariff import Tariff
from edge.fees.engine import CompiledTariff, compile_tariff, quote
from edge.fees.passage import Fee, Passage

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
    return compile_tariff(Tariff.model_validate(tariff_data(*versions, **top)), networks)


def band(name: str, start: str, end: str, **prices: Any) -> dict[str, Any]:
    return {"name": name, "start": start, "end": end, **prices}


# Day 2.00 per 30 min from 08:00 to 20:00, night 1.00 per hour; prices in fen.
DAY_NIGHT = [
    band("day", "08:00", "20:00", unit_price=200),
    band("night", "20:00", "08:00", unit_minutes=60, unit_price=100),
]


def cls(**table: Any) -> dict[str, Any]:
    """A parking class: DAY_NIGHT in 30 min units unless overridden."""
    return {"unit_minutes": 30, "bands": DAY_NIGHT, "lost_ticket_fee": 5000, **table}


def parking(
    classes: Mapping[int, Mapping[str, Any]] | None = None, **scheme: Any
) -> dict[str, Any]:
    """A parking version; class 1 defaults to :func:`cls`."""
    return {"parking": {"classes": classes or {1: cls()}, **scheme}}


def total(tariff: CompiledTariff, entry: str | None, exit_: str, **passage: Any) -> int:
    return price(tariff, entry, exit_, **passage).total


def price(tariff: CompiledTariff, entry: str | None, exit_: str, **passage: Any) -> Fee:
    zone = tariff.clock.tz
    return quote(
        tariff,
        Passage(entry=None if entry is None else at(entry, zone), exit=at(exit_, zone), **passage),
    )
