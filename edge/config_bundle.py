"""Whether a lane takes a configuration bundle from central, and what it then prices with.

Pure: :func:`decide` looks at a parsed :class:`~contracts.mqtt.payloads.ConfigBundle`,
the lane it reached and what the lane runs now (:class:`InForce`), at a given time,
and returns a :class:`Plan` (apply it whole), :class:`Unchanged` (the bundle in force,
delivered again: a retained message after a reconnection) or a :class:`Refusal` with a
reason from :data:`RefusalReason` and a line naming the problem. The daemon's shell
(:mod:`edge.daemon.config_push`) applies a plan in one store transaction.

A bundle is refused, and the lane keeps what it has, when:

- ``stale``: its version is not newer than the one in force on its topic (a replay of
  an older bundle, or another bundle under the version in force);
- ``wrong_scope``: it names a plaza but came on the network topic;
- ``not_for_lane``: its ``lanes`` list names other lanes only;
- ``network``: its network does not hold the lane's plaza;
- ``tariff_missing``: it carries tariffs but not the one the lane prices with;
- ``currency`` / ``timezone``: the lane's tariff charges in another currency or is
  evaluated in another time zone than the lane's plaza;
- ``tariff``: a tariff does not compile (a highway version without a network), a
  tariff id is repeated, or the lane's tariff has no version in force now;
- ``version_changed``: a tariff version the lane already has comes with another
  ``effective_from`` or content (issued versions never change: issue a new one);
- ``past``: a new tariff version takes effect before a version already in force,
  which would rewrite what the lane charged. A new version whose ``effective_from``
  passed while the lane was offline, but after every version in force, takes effect
  at once: the passages before were charged under the old one, as recorded;
- ``list`` / ``account``: a plate listed twice, validity that ends before it begins,
  an account in another currency, a plate on two accounts, an id repeated.

The shell adds ``unreadable`` (the payload is not a bundle, :class:`PayloadError`) and
``store`` (the store refused a part, e.g. a list older than the stored one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from contracts.mqtt.payloads import Account, ConfigBundle, ListItem
from contracts.network import Network
from contracts.tariff import Tariff, TariffVersion
from edge.fees.engine import CompiledTariff, compile_tariff
from edge.store.plates import plate_key

RefusalReason = Literal[
    "unreadable",
    "stale",
    "wrong_scope",
    "not_for_lane",
    "network",
    "tariff_missing",
    "currency",
    "timezone",
    "tariff",
    "version_changed",
    "past",
    "list",
    "account",
    "store",
]


@dataclass(frozen=True)
class LaneTarget:
    """The lane a bundle reached, as its files say (the plaza's currency and time zone)."""

    plaza_id: str
    lane_id: str
    currency: str
    timezone: str
    tariff_id: str | None
    """The tariff the lane prices with; None for a lane that does not charge."""


@dataclass(frozen=True)
class KnownVersion:
    """A tariff version the lane already has: when it takes effect, and its content."""

    effective_from: datetime
    document: str


@dataclass(frozen=True)
class InForce:
    """What the lane runs now: the bundle per topic, the tariff, the network."""

    versions: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    """Config topic to (version, digest) of the bundle in force."""
    tariff: Tariff | None = None
    network: Network | None = None
    known: Mapping[str, Mapping[int, KnownVersion]] = field(default_factory=dict)
    """Tariff id to the versions the lane has (stored and in force), by number."""


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    problem: str


@dataclass(frozen=True)
class Unchanged:
    """The bundle in force, received again: nothing to do, nothing to report."""

    version: int


@dataclass(frozen=True)
class Plan:
    """A bundle the lane takes, and what it prices with once applied."""

    bundle: ConfigBundle
    scope: str
    tariff: Tariff | None
    compiled: CompiledTariff | None
    """The lane's tariff compiled anew (it, or the network, changed); None: unchanged."""
    network: Network | None
    tariff_changed: bool
    network_changed: bool


Decision = Plan | Unchanged | Refusal


class _RefusedError(Exception):
    def __init__(self, reason: RefusalReason, problem: str) -> None:
        super().__init__(problem)
        self.refusal = Refusal(reason, problem)


def version_document(version: TariffVersion) -> str:
    """How a tariff version is compared and stored: its JSON as central wrote it."""
    return version.model_dump_json()


def known_versions(tariff: Tariff) -> dict[int, KnownVersion]:
    return {
        v.version: KnownVersion(start, version_document(v))
        for v, start in zip(tariff.versions, tariff.version_starts(), strict=True)
    }


def decide(
    bundle: ConfigBundle,
    *,
    scope: str,
    digest: str,
    network_scope: bool,
    lane: LaneTarget,
    in_force: InForce,
    now: datetime,
) -> Decision:
    """Take ``bundle`` (its JSON's ``digest``) from the topic ``scope``, or refuse it."""
    current = in_force.versions.get(scope)
    if current is not None and (bundle.version, digest) == current:
        return Unchanged(bundle.version)
    try:
        _check_scope(bundle, scope, network_scope, lane, current)
        network = _network(bundle, lane, in_force)
        tariff, compiled = _tariffs(bundle, lane, in_force, network, now)
        if compiled is None and tariff is not None and bundle.network is not None:
            compiled = _recompile(tariff, network)
        _check_lists(bundle)
        _check_accounts(bundle, lane)
    except _RefusedError as refused:
        return refused.refusal
    return Plan(
        bundle=bundle,
        scope=scope,
        tariff=tariff,
        compiled=compiled,
        network=network,
        tariff_changed=tariff is not in_force.tariff,
        network_changed=bundle.network is not None,
    )


def _check_scope(
    bundle: ConfigBundle,
    scope: str,
    network_scope: bool,
    lane: LaneTarget,
    current: tuple[int, str] | None,
) -> None:
    if network_scope and bundle.plaza_id is not None:
        raise _RefusedError(
            "wrong_scope",
            f"plaza_id: {bundle.plaza_id!r} on the network topic {scope} (a network bundle "
            "names no plaza)",
        )
    if current is not None and bundle.version <= current[0]:
        what = "is older than" if bundle.version < current[0] else "is the version in force,"
        extra = "" if bundle.version < current[0] else " with other content"
        raise _RefusedError(
            "stale",
            f"version: {bundle.version} {what} version {current[0]} in force{extra} on "
            f"{scope} (a replayed or out-of-date bundle; central issues a higher version)",
        )
    if bundle.lanes and lane.lane_id not in bundle.lanes:
        raise _RefusedError(
            "not_for_lane",
            f"lanes: the bundle is for {', '.join(bundle.lanes)}, not lane {lane.lane_id}",
        )


def _network(bundle: ConfigBundle, lane: LaneTarget, in_force: InForce) -> Network | None:
    network = bundle.network
    if network is None:
        return in_force.network
    if lane.plaza_id not in {plaza.id for plaza in network.plazas}:
        raise _RefusedError(
            "network", f"network: plaza {lane.plaza_id!r} is not in the network it carries"
        )
    return network


def _tariffs(
    bundle: ConfigBundle,
    lane: LaneTarget,
    in_force: InForce,
    network: Network | None,
    now: datetime,
) -> tuple[Tariff | None, CompiledTariff | None]:
    """Check every tariff of the bundle; the lane's own and its compiled form, if carried."""
    if not bundle.tariffs:
        return in_force.tariff, None
    ids = [t.id for t in bundle.tariffs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise _RefusedError("tariff", f"tariffs: tariff ids repeated: {', '.join(repeated)}")
    if lane.tariff_id is not None and lane.tariff_id not in ids:
        raise _RefusedError(
            "tariff_missing",
            f"tariffs: lane {lane.lane_id} prices with tariff {lane.tariff_id}, which the "
            f"bundle does not carry (it carries {', '.join(ids)})",
        )
    compiled = [_compile(f"tariffs.{i}", t, network) for i, t in enumerate(bundle.tariffs)]
    own = ids.index(lane.tariff_id) if lane.tariff_id is not None else None
    if own is not None:
        _check_own(bundle.tariffs[own], own, lane, now)
    for index, tariff in enumerate(bundle.tariffs):
        _check_history(index, tariff, in_force.known.get(tariff.id, {}), now)
    if own is None:
        return in_force.tariff, None
    return bundle.tariffs[own], compiled[own]


def _compile(where: str, tariff: Tariff, network: Network | None) -> CompiledTariff:
    names = {v.highway.network for v in tariff.versions if v.highway is not None}
    networks = {name: network for name in names if network is not None}
    try:
        return compile_tariff(tariff, networks)
    except ValueError as exc:
        raise _RefusedError("tariff", f"{where} ({tariff.id}): {exc}") from None


def _recompile(tariff: Tariff, network: Network | None) -> CompiledTariff:
    """The lane's tariff, kept, priced over the network the bundle brings."""
    try:
        return _compile("network: the lane's tariff", tariff, network)
    except _RefusedError as refused:
        raise _RefusedError("network", str(refused)) from None


def _check_own(tariff: Tariff, index: int, lane: LaneTarget, now: datetime) -> None:
    where = f"tariffs.{index} ({tariff.id})"
    if tariff.currency != lane.currency:
        raise _RefusedError(
            "currency",
            f"{where}: charges in {tariff.currency}, plaza {lane.plaza_id} in {lane.currency}",
        )
    if tariff.timezone != lane.timezone:
        raise _RefusedError(
            "timezone",
            f"{where}: is in time zone {tariff.timezone}, plaza {lane.plaza_id} in {lane.timezone}",
        )
    if all(start > now for start in tariff.version_starts()):
        raise _RefusedError(
            "tariff",
            f"{where}: no version is in force at {now.isoformat()} (the lane could not price)",
        )


def _check_history(
    index: int, tariff: Tariff, known: Mapping[int, KnownVersion], now: datetime
) -> None:
    """Issued versions never change; a new one never takes effect before one in force."""
    offered = known_versions(tariff)
    for number, version in offered.items():
        had = known.get(number)
        if had is not None and had != version:
            raise _RefusedError(
                "version_changed",
                f"tariffs.{index} ({tariff.id}): version {number} is already issued with "
                "another effective_from or content (issued versions never change: issue a "
                "new version)",
            )
    effective = [(k.effective_from, n) for n, k in known.items() if k.effective_from <= now]
    for number, version in offered.items():
        if number in known or version.effective_from > now:
            continue
        later = [(start, n) for start, n in effective if start >= version.effective_from]
        if later:
            start, n = max(later)
            raise _RefusedError(
                "past",
                f"tariffs.{index} ({tariff.id}): version {number} takes effect at "
                f"{version.effective_from.isoformat()}, before version {n}, in force since "
                f"{start.isoformat()}: that would rewrite what the lane charged",
            )


def _check_lists(bundle: ConfigBundle) -> None:
    for name in ("permits", "whitelist", "blacklist"):
        items: Sequence[ListItem] | None = getattr(bundle, name)
        seen: set[str] = set()
        for index, item in enumerate(items or ()):
            key = plate_key(item.plate)
            if key in seen:
                raise _RefusedError("list", f"{name}.{index}: plate {item.plate!r} is listed twice")
            seen.add(key)
            if item.valid_from and item.valid_until and item.valid_until <= item.valid_from:
                raise _RefusedError(
                    "list",
                    f"{name}.{index}: valid_until {item.valid_until.isoformat()} is not after "
                    f"valid_from {item.valid_from.isoformat()}",
                )


def _check_accounts(bundle: ConfigBundle, lane: LaneTarget) -> None:
    accounts: Sequence[Account] = bundle.accounts or ()
    ids: set[str] = set()
    owners: dict[str, str] = {}
    for index, account in enumerate(accounts):
        where = f"accounts.{index} ({account.account_id})"
        if account.account_id in ids:
            raise _RefusedError("account", f"{where}: account id repeated")
        ids.add(account.account_id)
        if account.currency != lane.currency:
            raise _RefusedError(
                "account",
                f"{where}: in {account.currency}, plaza {lane.plaza_id} in {lane.currency}",
            )
        for plate in account.plates:
            owner = owners.setdefault(plate_key(plate), account.account_id)
            if owner != account.account_id:
                raise _RefusedError(
                    "account", f"{where}: plate {plate!r} is already on account {owner}"
                )
