"""Configuration bundles for lanes: built from tariff, network and list files, published retained.

Central authors a :class:`~contracts.mqtt.payloads.ConfigBundle` from the same files a
lane loads (tariffs and the network in their file schemas, validated here as a lane
would, so a bundle that leaves central parses on every lane) and CSV lists, and
publishes it retained with QoS 1 on the plaza's config topic (or the network's), so a
lane that connects later still gets the version in force. Lanes apply a bundle whole or
refuse it, and say which in a ``config_applied`` / ``config_refused`` lane event and in
their state's ``config_version``; this module does not wait for them.

CSV files have a header row. Lists (permits, whitelist, blacklist):
``plate,valid_from,valid_until,note`` (only ``plate`` required; times ISO 8601 with an
offset). Accounts: ``account_id,currency,balance,plates`` with the plates separated by
spaces; balances in minor units.
"""

from __future__ import annotations

import csv
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ValidationError

from contracts.mqtt.payloads import (
    MAX_PAYLOAD_BYTES,
    Account,
    ConfigBundle,
    ListItem,
    PayloadError,
    parse_payload,
)
from contracts.mqtt.topics import CONFIG_SPEC, NETWORK_CONFIG_TOPIC, plaza_config_topic
from contracts.network import Network
from contracts.records.model import problems as validation_lines
from contracts.tariff import Tariff
from plumbing.broker import BrokerConfig, configure_client
from plumbing.config import ConfigError, load


class BundleInputError(Exception):
    """A file a bundle is built from is wrong; ``problems`` has one ``file: what`` line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PublishError(Exception):
    """The broker could not be reached, refused the login, or did not take the bundle."""


@dataclass(frozen=True)
class BundleFiles:
    """What a bundle is made of: files and the lanes it is for."""

    tariffs: Sequence[Path] = ()
    network: Path | None = None
    lanes: Sequence[str] = ()
    permits: Path | None = None
    whitelist: Path | None = None
    blacklist: Path | None = None
    accounts: Path | None = None


def config_topic(plaza_id: str | None) -> str:
    """The plaza's config topic, or the network's for None."""
    return NETWORK_CONFIG_TOPIC if plaza_id is None else plaza_config_topic(plaza_id)


def build_bundle(
    files: BundleFiles, *, plaza_id: str | None, version: int, issued_at: datetime
) -> ConfigBundle:
    """The bundle of ``files``; :class:`BundleInputError` naming every wrong file and field."""
    found: list[str] = []
    tariffs: list[Tariff] = []
    for path in files.tariffs:
        try:
            tariffs.append(load(path, Tariff))
        except ConfigError as exc:
            found += exc.problems
    network = None
    if files.network is not None:
        try:
            network = load(files.network, Network)
        except ConfigError as exc:
            found += exc.problems
    ids = [t.id for t in tariffs]
    found += [
        f"tariffs: tariff {i} given twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    lists: dict[str, tuple[ListItem, ...] | None] = {}
    for name in ("permits", "whitelist", "blacklist"):
        path = getattr(files, name)
        lists[name] = None if path is None else _rows(path, ListItem, _list_row, found)
    accounts = (
        None if files.accounts is None else _rows(files.accounts, Account, _account_row, found)
    )
    if found:
        raise BundleInputError(found)
    try:
        bundle = ConfigBundle(
            plaza_id=plaza_id,
            version=version,
            issued_at=issued_at,
            lanes=tuple(files.lanes),
            tariffs=tuple(tariffs),
            network=network,
            accounts=accounts,
            **lists,
        )
    except ValidationError as exc:
        raise BundleInputError([f"bundle: {line}" for line in validation_lines(exc)]) from None
    check_as_a_lane_reads_it(bundle)
    return bundle


def check_as_a_lane_reads_it(bundle: ConfigBundle) -> bytes:
    """The bundle's bytes, read back with the lanes' own reader (size, schema, plaza)."""
    raw = bundle.to_bytes()
    try:
        parse_payload(ConfigBundle, raw, plaza_id=bundle.plaza_id, limit=MAX_PAYLOAD_BYTES)
    except PayloadError as exc:
        raise BundleInputError([f"bundle: {line}" for line in exc.problems]) from None
    return raw


def _rows(
    path: Path,
    model: type[ListItem] | type[Account],
    convert: Any,
    found: list[str],
) -> Any:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        found.append(f"{path}: cannot read: {exc}")
        return ()
    items = []
    wanted = set(model.model_fields)
    for line, row in enumerate(rows, start=2):
        unknown = sorted(k for k in row if k not in wanted) if None not in row else ["(extra)"]
        if unknown:
            found.append(f"{path}:{line}: unknown column(s) {', '.join(map(str, unknown))}")
            continue
        try:
            items.append(model.model_validate(convert(row)))
        except ValidationError as exc:
            found += [f"{path}:{line}: {problem}" for problem in validation_lines(exc)]
        except ValueError as exc:
            found.append(f"{path}:{line}: {exc}")
    return tuple(items)


def _list_row(row: Mapping[str, str]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if value not in ("", None)}


def _account_row(row: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = dict(_list_row(row))
    if "balance" in data:
        try:
            data["balance"] = int(data["balance"])
        except ValueError:
            raise ValueError(
                f"balance: {data['balance']!r} is not a whole number of minor units"
            ) from None
    data["plates"] = tuple(str(data.get("plates", "")).split())
    return data


def publish_bundle(
    broker: BrokerConfig,
    bundle: ConfigBundle,
    *,
    environ: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> str:
    """Publish ``bundle`` retained, QoS 1, and wait for the broker's PUBACK; its topic.

    MQTT 5 (``protocol`` 5 or auto) lets the broker say that it refused the publish
    (an ACL); with ``auto`` a broker without MQTT 5 is tried again with 3.1.1.
    """
    raw = check_as_a_lane_reads_it(bundle)
    topic = config_topic(bundle.plaza_id)
    versions = [mqtt.MQTTv311] if broker.protocol == "3.1.1" else [mqtt.MQTTv5]
    if broker.protocol == "auto":
        versions.append(mqtt.MQTTv311)
    for attempt, protocol in enumerate(versions):
        try:
            _publish(broker, protocol, topic, raw, environ=environ, timeout_s=timeout_s)
        except _ProtocolRefusedError:
            if attempt + 1 == len(versions):
                raise PublishError(
                    f"{broker.host}:{broker.port}: the broker refused MQTT 5; set protocol = 3.1.1"
                ) from None
            continue
        return topic
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


class _ProtocolRefusedError(Exception):
    pass


def _publish(
    broker: BrokerConfig,
    protocol: MQTTProtocolVersion,
    topic: str,
    raw: bytes,
    *,
    environ: Mapping[str, str] | None,
    timeout_s: float,
) -> None:
    where = f"{broker.host}:{broker.port}"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"lanewarden-config-{uuid.uuid4().hex[:12]}",
        protocol=protocol,
    )
    configure_client(client, broker, environ)
    connected = threading.Event()
    published = threading.Event()
    outcome: dict[str, ReasonCode] = {}

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        outcome["connect"] = reason
        connected.set()

    def on_publish(_c: mqtt.Client, _u: Any, _mid: int, reason: ReasonCode, _p: Any) -> None:
        outcome["publish"] = reason
        published.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(broker.host, broker.port, broker.keepalive_s)
    except OSError as exc:
        raise PublishError(f"{where}: cannot connect: {exc.strerror or exc}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise PublishError(f"{where}: no answer to the connection within {timeout_s} s")
        reason = outcome["connect"]
        if reason.is_failure:
            if protocol == mqtt.MQTTv5 and "protocol" in str(reason).lower():
                raise _ProtocolRefusedError
            raise PublishError(f"{where}: the broker refused the connection: {reason}")
        info = client.publish(topic, raw, qos=CONFIG_SPEC.qos, retain=CONFIG_SPEC.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"{where}: cannot publish: {mqtt.error_string(info.rc)}")
        if not published.wait(timeout_s):
            raise PublishError(f"{where}: no PUBACK for {topic} within {timeout_s} s")
        if outcome["publish"].is_failure:
            raise PublishError(f"{where}: the broker refused {topic}: {outcome['publish']}")
    finally:
        client.disconnect()
        client.loop_stop()


def describe(bundle: ConfigBundle) -> str:
    """One line of what the bundle holds, for the command's output."""
    parts = [f"version {bundle.version}"]
    if bundle.tariffs:
        parts.append(
            "tariffs " + ", ".join(f"{t.id} (v{t.versions[-1].version})" for t in bundle.tariffs)
        )
    if bundle.network is not None:
        parts.append(f"network {bundle.network.id}")
    for name in ("permits", "whitelist", "blacklist", "accounts"):
        items: Sequence[BaseModel] | None = getattr(bundle, name)
        if items is not None:
            parts.append(f"{name} {len(items)}")
    if bundle.lanes:
        parts.append("for lanes " + ", ".join(bundle.lanes))
    return "; ".join(parts)
