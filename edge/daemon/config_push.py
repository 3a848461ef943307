"""Configuration from central, on the lane: read, decide, apply in one commit, report.

The sync hands every message of the two config topics (the plaza's and the network's,
both retained) to :meth:`ConfigPush.take`, in its own thread. The bundle is read
(:func:`~contracts.mqtt.payloads.parse_payload`), judged by the pure
:func:`edge.config_bundle.decide` against what the lane runs, and then either

- applied whole, in ONE store transaction: the tariff versions, the lists and accounts
  it carries, the bundle itself as the version in force on its topic, what the lane
  now prices with (:class:`~edge.store.PricingDocuments`) and a ``config_applied``
  lane event; only after that commit does the lane quote with the new tariff
  (:class:`PricingInForce`, read by every lookup); or
- refused: nothing changes, and a ``config_refused`` lane event says which version and
  why (``reason`` from :data:`edge.config_bundle.RefusalReason`, ``problem`` the line).
  A retained bundle comes again after every reconnection: a refusal is recorded once
  per run, and the bundle in force received again is no news at all.

Both events go to central with the lane's other events; the lane's retained state says
the version in force (:meth:`ConfigPush.config_version`) and its tariff's version.

At start, :func:`initial_pricing` takes the last configuration the store holds for the
lane, so that a lane restarted without the network prices as it did; the lane's tariff
file only gives its first configuration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from contracts.mqtt.payloads import ConfigBundle, ListItem, PayloadError, parse_payload
from contracts.mqtt.topics import NETWORK_CONFIG_TOPIC, plaza_config_topic
from contracts.network import Network
from contracts.records.vocab import DetailValue, Severity
from contracts.tariff import Tariff
from edge.config.lane import LaneFiles
from edge.config_bundle import (
    InForce,
    KnownVersion,
    LaneTarget,
    Plan,
    Refusal,
    Unchanged,
    decide,
    known_versions,
    version_document,
)
from edge.daemon.syncing import tariff_in_force
from edge.fees.engine import CompiledTariff, compile_tariff
from edge.fees.files import load_tariff
from edge.store import (
    ListEntry,
    ListName,
    PricingDocuments,
    StaleConfigError,
    StaleListVersionError,
    Store,
    StoreError,
    TariffConflictError,
    TariffVersion,
)
from plumbing import log

logger = log.get(__name__)

LISTS: tuple[tuple[str, ListName], ...] = (
    ("permits", "permit"),
    ("whitelist", "whitelist"),
    ("blacklist", "blacklist"),
)


@dataclass(frozen=True)
class Pricing:
    """What the lane prices with: the tariff, its compiled form and the network."""

    tariff: Tariff | None
    compiled: CompiledTariff | None
    network: Network | None


class PricingInForce:
    """The lane's :class:`Pricing`, replaced whole when a bundle applies.

    The sync thread replaces it, the lane's loop reads it: one attribute holds an
    immutable value, so a reader sees the old pricing or the new, never a mixture.
    """

    def __init__(self, pricing: Pricing) -> None:
        self.now = pricing

    @property
    def compiled(self) -> CompiledTariff | None:
        return self.now.compiled


def _networks(tariff: Tariff, network: Network | None) -> dict[str, Network]:
    if network is None:
        return {}
    return {v.highway.network: network for v in tariff.versions if v.highway is not None}


def initial_pricing(files: LaneFiles, store: Store) -> Pricing:
    """At start: the last configuration central gave the lane, else its files'.

    A stored tariff that no longer compiles raises ValueError naming it (the start fails).
    """
    stored = store.config.pricing(files.lane.id)
    network = files.network
    if stored.network is not None:
        network = Network.model_validate_json(stored.network)
    if stored.tariff is not None:
        tariff = Tariff.model_validate_json(stored.tariff)
        try:
            compiled = compile_tariff(tariff, _networks(tariff, network))
        except ValueError as exc:
            raise ValueError(f"store: the tariff central sent, {tariff.id}: {exc}") from exc
        return Pricing(tariff, compiled, network)
    if files.lane.tariff is None:
        return Pricing(None, None, network)
    compiled = load_tariff(files.path.parent / files.lane.tariff)
    return Pricing(compiled.source, compiled, network)


class Events(Protocol):
    """Where lane events are recorded (the daemon's :class:`~edge.daemon.recording.Recorder`)."""

    def event(
        self,
        kind: str,
        at: datetime,
        *,
        severity: Severity = "info",
        detail: dict[str, DetailValue] | None = None,
    ) -> object: ...


class _StoreRefusedError(Exception):
    """A part of the bundle the store would not take; the transaction is rolled back."""


class ConfigPush:
    """One lane's taker of configuration bundles; :meth:`take` from the sync thread."""

    def __init__(
        self,
        files: LaneFiles,
        store: Store,
        pricing: PricingInForce,
        events: Events,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        plaza, lane = files.plaza, files.lane
        self.store = store
        self.pricing = pricing
        self.events = events
        self.clock = clock
        self.target = LaneTarget(
            plaza_id=plaza.id,
            lane_id=lane.id,
            currency=plaza.currency,
            timezone=plaza.timezone,
            tariff_id=pricing.now.tariff.id if pricing.now.tariff is not None else None,
        )
        self.plaza_topic = plaza_config_topic(plaza.id)
        self.topics = (self.plaza_topic, NETWORK_CONFIG_TOPIC)
        self._refused: set[tuple[str, str]] = set()
        self.version_in_force = self._version_in_force()
        """The version in force on the plaza's config topic (else the network's), for the
        lane's state; read from any thread."""

    def _version_in_force(self) -> int | None:
        for topic in self.topics:
            applied = self.store.config.in_force(self.target.lane_id, topic)
            if applied is not None:
                return applied.version
        return None

    def take(self, topic: str, raw: bytes) -> Plan | Unchanged | Refusal | None:
        """Apply or refuse the bundle ``raw`` that came on ``topic``; what was decided.

        An empty payload is how MQTT deletes a retained message (central withdrew the
        topic's bundle): the lane keeps what it has, and None says nothing was decided.
        """
        if topic not in self.topics:
            raise ValueError(f"topic: {topic!r} is not one of this lane's config topics")
        if not raw:
            logger.info("config_withdrawn", topic=topic)
            return None
        now = self.clock()
        network_scope = topic == NETWORK_CONFIG_TOPIC
        digest = hashlib.sha256(raw).hexdigest()
        try:
            bundle = parse_payload(
                ConfigBundle, raw, plaza_id=None if network_scope else self.target.plaza_id
            )
        except PayloadError as exc:
            return self._refuse(topic, None, digest, Refusal("unreadable", str(exc)), now)
        decision = decide(
            bundle,
            scope=topic,
            digest=digest,
            network_scope=network_scope,
            lane=self.target,
            in_force=self._in_force(bundle),
            now=now,
        )
        if isinstance(decision, Unchanged):
            logger.debug("config_unchanged", topic=topic, version=bundle.version)
            return decision
        if isinstance(decision, Refusal):
            return self._refuse(topic, bundle.version, digest, decision, now)
        try:
            self._apply(decision, raw.decode(), digest, now)
        except _StoreRefusedError as exc:
            return self._refuse(topic, bundle.version, digest, Refusal("store", str(exc)), now)
        except StoreError as exc:  # full or failing: nothing was applied, the old one stays
            logger.error("config_not_applied", topic=topic, version=bundle.version, error=str(exc))
            return self._refuse(topic, bundle.version, digest, Refusal("store", str(exc)), now)
        old = self.pricing.now
        self.pricing.now = Pricing(
            decision.tariff, decision.compiled or old.compiled, decision.network
        )
        self.version_in_force = self._version_in_force()
        logger.info("config_applied", topic=topic, version=bundle.version)
        return decision

    # -- the parts -----------------------------------------------------------------------------

    def _in_force(self, bundle: ConfigBundle) -> InForce:
        lane_id = self.target.lane_id
        versions = {}
        for topic in self.topics:
            applied = self.store.config.in_force(lane_id, topic)
            if applied is not None:
                versions[topic] = (applied.version, applied.digest)
        now = self.pricing.now
        known: dict[str, dict[int, KnownVersion]] = {}
        for tariff in bundle.tariffs:
            known[tariff.id] = {
                v.version: KnownVersion(v.effective_from, v.document)
                for v in self.store.tariffs.versions(tariff.id)
            }
        if now.tariff is not None:
            known.setdefault(now.tariff.id, {}).update(known_versions(now.tariff))
        return InForce(versions, now.tariff, now.network, known)

    def _apply(self, plan: Plan, document: str, digest: str, now: datetime) -> None:
        """Everything the bundle carries, its row and its event: one commit."""
        bundle, store, lane_id = plan.bundle, self.store, self.target.lane_id
        try:
            with store.batch():
                for tariff in bundle.tariffs:
                    for version, start in zip(
                        tariff.versions, tariff.version_starts(), strict=True
                    ):
                        store.tariffs.put(
                            TariffVersion(
                                tariff.id, version.version, start, version_document(version)
                            )
                        )
                shared = store.config.applied_by_another(
                    lane_id, plan.scope, bundle.version, digest
                )
                if not shared:
                    self._lists_and_accounts(bundle)
                store.config.record(
                    lane_id,
                    plan.scope,
                    version=bundle.version,
                    issued_at=bundle.issued_at,
                    applied_at=now,
                    document=document,
                )
                self._keep_pricing(plan)
                self.events.event("config_applied", now, detail=self._applied_detail(plan, now))
        except (StaleListVersionError, TariffConflictError, StaleConfigError) as exc:
            raise _StoreRefusedError(str(exc)) from exc
        except ValueError as exc:
            raise _StoreRefusedError(str(exc)) from exc

    def _lists_and_accounts(self, bundle: ConfigBundle) -> None:
        store = self.store
        for field, name in LISTS:
            items: tuple[ListItem, ...] | None = getattr(bundle, field)
            if items is not None:
                store.lists.replace(
                    name,
                    bundle.version,
                    [ListEntry(i.plate, i.valid_from, i.valid_until, i.note) for i in items],
                )
        for account in bundle.accounts or ():
            store.accounts.put(
                account.account_id, account.currency, account.balance, account.plates
            )

    def _keep_pricing(self, plan: Plan) -> None:
        config, lane_id = self.store.config, self.target.lane_id
        stored = config.pricing(lane_id)
        tariff = stored.tariff
        if plan.tariff_changed and plan.tariff is not None:
            tariff = plan.tariff.model_dump_json()
        network = stored.network
        if plan.network_changed and plan.network is not None:
            network = plan.network.model_dump_json()
        config.set_pricing(lane_id, PricingDocuments(tariff, network))

    def _applied_detail(self, plan: Plan, now: datetime) -> dict[str, DetailValue]:
        bundle = plan.bundle
        detail: dict[str, DetailValue] = {
            "scope": plan.scope,
            "version": bundle.version,
            "issued_at": bundle.issued_at.isoformat(),
            "tariffs": ",".join(t.id for t in bundle.tariffs),
            "lists": ",".join(f for f, _ in LISTS if getattr(bundle, f) is not None),
            "accounts": len(bundle.accounts or ()),
            "network": bundle.network is not None,
        }
        if plan.tariff is not None:
            for tariff_id, version in tariff_in_force(plan.tariff, now):
                detail["tariff_id"] = tariff_id
                detail["tariff_version"] = version
        return detail

    def _refuse(
        self, topic: str, version: int | None, digest: str, refusal: Refusal, now: datetime
    ) -> Refusal:
        logger.warning(
            "config_refused",
            topic=topic,
            version=version,
            reason=refusal.reason,
            problem=refusal.problem[:500],
        )
        if (topic, digest) in self._refused:
            return refusal  # the same retained bundle again: recorded once per run
        severity: Severity = "info" if refusal.reason == "not_for_lane" else "warning"
        try:
            self.events.event(
                "config_refused",
                now,
                severity=severity,
                detail={
                    "scope": topic,
                    "version": version,
                    "reason": refusal.reason,
                    "problem": refusal.problem[:300],
                },
            )
        except StoreError as exc:
            logger.error("config_refusal_not_recorded", error=str(exc))
            return refusal
        self._refused.add((topic, digest))
        return refusal
