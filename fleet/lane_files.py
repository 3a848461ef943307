"""Lane files for simulated lanes, derived from the shipped Riverside examples.

The demo and the bench run ``config/lanes/riverside-entry.toml`` and
``riverside-exit.toml`` as shipped (kind, policy, recognition), with their
devices pointed at simulators on loopback ports and ptys, their store in the
work folder and, for the exit, a payments section for the gateway simulator.
The plaza file is copied beside them; the tariff is copied too, through
``tariff_edit`` when the caller changes it (the demo drops the free minutes).
Each file written is loaded back with :func:`edge.config.lane.load_lane`, so a
derived lane is validated exactly as a technician's would be.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from edge.config.lane import LaneFiles, load_lane

CONFIG = Path(__file__).resolve().parents[1] / "config"
PLAZA = "riverside.toml"
TARIFF = "riverside-parking.toml"
DEVICE_SECTIONS = ("io", "barrier", "loops", "camera", "display")

Table = Mapping[str, Any]


def derive_lane(
    lane_id: str,
    folder: Path,
    *,
    store: Path,
    devices: Mapping[str, Table],
    changes: Mapping[str, Table] | None = None,
    tariff_edit: Callable[[str], str] | None = None,
) -> LaneFiles:
    """Write ``folder/lanes/{lane_id}.toml`` (with plaza and tariff) and load it.

    ``devices`` replaces every device section of the shipped lane; ``changes``
    merges into (or adds) other sections, e.g. ``{"payments": {...}}``; a key given as
    None is removed from its section.
    """
    source = CONFIG / "lanes" / f"{lane_id}.toml"
    with source.open("rb") as f:
        lane = tomllib.load(f)
    for section in DEVICE_SECTIONS:
        lane.pop(section, None)
    lane["store"] = str(store)
    for section, values in (changes or {}).items():
        merged = {**lane.get(section, {}), **values}
        lane[section] = {key: value for key, value in merged.items() if value is not None}
    lane.update(devices)
    for name in ("lanes", "plazas", "tariffs"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG / "plazas" / PLAZA, folder / "plazas" / PLAZA)
    tariff = (CONFIG / "tariffs" / TARIFF).read_text(encoding="utf-8")
    if tariff_edit is not None:
        tariff = tariff_edit(tariff)
    (folder / "tariffs" / TARIFF).write_text(tariff, encoding="utf-8")
    path = folder / "lanes" / f"{lane_id}.toml"
    header = f"# Derived from {source} by lanewarden for simulated devices.\n"
    path.write_text(header + toml_text(lane), encoding="utf-8")
    return load_lane(path)


def gateway_payments(
    base_url: str, merchant_id: str, secret: str, callback_port: int
) -> dict[str, Any]:
    """The ``gateway`` of an exit's payments section: a gateway simulator at ``base_url``.

    The lane's callback receiver listens on loopback ``callback_port``; orders are
    queried every second.
    """
    return {
        "base_url": base_url,
        "merchant_id": merchant_id,
        "secret": secret,
        "query_schedule_s": [1.0],
        "callback": {
            "host": "127.0.0.1",
            "port": callback_port,
            "public_url": f"http://127.0.0.1:{callback_port}/payments/notify",
        },
    }


def toml_text(table: Table, prefix: str = "") -> str:
    """TOML for nested tables of strings, numbers, booleans and lists of them."""
    lines = [f"{key} = {toml_value(value)}" for key, value in table.items() if not _is_table(value)]
    parts = ["\n".join(lines) + "\n"] if lines else []
    for key, value in table.items():
        if _is_table(value):
            name = f"{prefix}{key}"
            parts.append(f"[{name}]\n" + toml_text(value, name + "."))
    return "\n".join(parts)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__} {value!r}")


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping)


def sync_section(host: str, port: int, *, mqtt5: bool) -> dict[str, Any]:
    """A lane's ``[sync]`` for a demo's broker at ``host:port``: quick resends and telemetry.

    The shipped defaults (a 10 s resend timeout doubling to 300 s) suit a plaza; a
    demo of a minute wants the backlog to move within seconds of the broker's return.
    The MQTT version is the broker's: with ``auto`` a lane would find out that the
    embedded broker speaks only 3.1.1 after two keep-alives without an answer.
    """
    return {
        "resend_timeout_s": 2.0,
        "resend_max_s": 10.0,
        "telemetry_s": 2.0,
        "broker": {
            "host": host,
            "port": port,
            "keepalive_s": 5,
            "protocol": "5" if mqtt5 else "3.1.1",
        },
    }
