"""The daemon's side of sync: building the lane's :class:`~edge.sync.SyncService` from its files.

A lane whose file has a ``[sync]`` section syncs; without one it works as an
island. A broker that cannot be reached never fails the start (the lane keeps
every record and drains when the broker appears); a password that cannot be read
or TLS files that cannot be loaded do, naming the key (``sync.broker.password_file``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prometheus_client import CollectorRegistry

from contracts.tariff import Tariff
from edge.config.lane import LaneFiles
from edge.lane import LaneState
from edge.lane.policy import LaneKind
from edge.store import StoreError
from edge.sync import LaneFacts, LaneView, SyncService
from edge.sync.commands import Handler
from edge.sync.lookups import RemoteLookups
from edge.sync.metrics import register
from edge.sync.service import Alarm
from plumbing.broker import BrokerSetupError


class SyncStartError(Exception):
    """The sync section cannot be used as written; the message names the setting."""


def software_version() -> str | None:
    try:
        return version("lanewarden")
    except PackageNotFoundError:
        return None


def lane_facts(files: LaneFiles) -> LaneFacts:
    """Who the lane is and what it runs, as its state and telemetry say."""
    running = software_version()
    return LaneFacts(
        plaza_id=files.plaza.id,
        lane_id=files.lane.id,
        tz=files.plaza.tz,
        software_version=running,
        versions={"lanewarden": running} if running else {},
    )


def tariff_in_force(tariff: Tariff | None, now: datetime) -> tuple[tuple[str, int], ...]:
    """The lane's tariff and its version in force at ``now`` (none before the first)."""
    if tariff is None:
        return ()
    started = [
        v.version
        for v, start in zip(tariff.versions, tariff.version_starts(), strict=True)
        if start <= now
    ]
    return ((tariff.id, started[-1]),) if started else ()


def view_of(
    state: LaneState | None,
    tariff: Tariff | None,
    *,
    store_full: bool,
    now: datetime,
    config_version: int | None = None,
) -> LaneView:
    """The lane's mode, barrier, standing faults, tariff and configuration version in force."""
    faults = []
    if state is not None and state.barrier.value == "fault":
        faults.append("barrier_fault")
    if store_full:
        faults.append("store_full")
    return LaneView(
        mode=state.mode.value if state is not None else None,
        barrier=state.barrier.value if state is not None else None,
        faults=tuple(faults),
        tariffs=tariff_in_force(tariff, now),
        config_version=config_version,
    )


def remote_lookups(files: LaneFiles, loop: asyncio.AbstractEventLoop) -> RemoteLookups | None:
    """A highway exit that syncs asks central for entries it does not have; other lanes do not."""
    config = files.lane.sync
    if config is None or files.lane.lane_kind is not LaneKind.HIGHWAY_EXIT:
        return None
    network = files.network.id if files.network is not None else None
    return RemoteLookups(files.plaza.id, files.lane.id, network, config.lookup_timeout_s, loop)


def start_sync(
    files: LaneFiles,
    *,
    view: Callable[[], LaneView],
    handler: Handler,
    loop: asyncio.AbstractEventLoop,
    environ: Mapping[str, str],
    registry: CollectorRegistry,
    alarm: Alarm,
    on_config: Callable[[str, bytes], object] | None = None,
    lookups: RemoteLookups | None = None,
) -> SyncService | None:
    """Start the lane's sync when its file asks for it; None when it does not."""
    config = files.lane.sync
    if config is None:
        return None
    service = SyncService(
        config,
        lane_facts(files),
        Path(files.lane.store),
        view=view,
        handler=handler,
        loop=loop,
        environ=environ,
        alarm=alarm,
        on_config=on_config,
        lookups=lookups,
    )
    try:
        service.start()
    except BrokerSetupError as exc:
        raise SyncStartError(f"sync.{exc}") from exc  # the key within the lane file
    except StoreError as exc:
        raise SyncStartError(f"sync: cannot read the store: {exc}") from exc
    register(registry, service)
    return service
