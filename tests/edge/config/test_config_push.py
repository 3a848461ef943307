"""Configuration bundles on a lane: applied whole in one commit, or refused with a reason.

Every refusal leaves the lane as it was: the same version in force, the same quotes,
nothing stored, and one ``config_refused`` event naming the version and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from contracts.mqtt.payloads import Account, ListItem
from contracts.mqtt.topics import NETWORK_CONFIG_TOPIC, plaza_config_topic
from edge.config.lane import LaneFiles, load_lane
from edge.config_bundle import Plan, Refusal, Unchanged
from edge.daemon.config_push import ConfigPush, PricingInForce, initial_pricing
from edge.daemon.recording import Recorder
from edge.daemon.syncing import tariff_in_force
from edge.fees.testing import (
    BRIDGE_LANE,
    FILE_VERSION,
    class1_fee,
    flat,
    highway,
    network,
)
from edge.fees.testing import BRIDGE_LANE_ID as LANE
from edge.fees.testing import BRIDGE_NOW as NOW
from edge.fees.testing import BRIDGE_PLAZA as PLAZA
from edge.fees.testing import bridge_bundle as bundle
from edge.metrics import LaneMetrics
from edge.store import ListEntry, Store

TOPIC = plaza_config_topic(PLAZA)


@dataclass
class Lane:
    """A lane's store, pricing and config taker, as the daemon builds them."""

    files: LaneFiles
    store: Store
    pricing: PricingInForce
    push: ConfigPush

    def fee(self, at: Any = NOW) -> int:
        return class1_fee(self.pricing.compiled, at)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e.detail for e in self.store.events(LANE, 1, 1000) if e.kind == kind]

    def in_force(self, topic: str = TOPIC) -> int | None:
        applied = self.store.config.in_force(LANE, topic)
        return None if applied is None else applied.version


def open_lane(path: Path, lane_id: str = LANE) -> Lane:
    files = load_lane(BRIDGE_LANE)
    if lane_id != LANE:  # another lane of the same site, sharing the store
        files = replace(files, lane=files.lane.model_copy(update={"id": lane_id}))
    store = Store.open(path)
    pricing = PricingInForce(initial_pricing(files, store))
    metrics = LaneMetrics(CollectorRegistry(), lane_kind=files.lane.lane_kind.value)
    recorder = Recorder(store, lane_id, metrics)
    push = ConfigPush(files, store, pricing, recorder, clock=lambda: NOW)
    return Lane(files, store, pricing, push)


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[Lane]:
    opened = open_lane(tmp_path / "site.db")
    try:
        yield opened
    finally:
        opened.store.close()


NEW_PRICE = (FILE_VERSION, (2, "2026-12-04T09:00:00", 1200))
"""Version 2 took effect at 09:00 local, an hour before NOW: 1200 fen from then."""


class TestApplied:
    """A good bundle is applied whole, and the lane's next quote uses it."""

    def test_new_version_in_force_changes_the_quote(self, lane: Lane) -> None:
        assert lane.fee() == 1000
        decision = lane.push.take(TOPIC, bundle(5, tariffs=(flat(*NEW_PRICE),)))
        assert isinstance(decision, Plan)
        assert lane.fee() == 1200
        assert lane.in_force() == 5
        assert lane.push.version_in_force == 5
        assert [v.version for v in lane.store.tariffs.versions("bridge-flat")] == [1, 2]
        (applied,) = lane.events("config_applied")
        assert applied["version"] == 5
        assert applied["scope"] == TOPIC
        assert (applied["tariff_id"], applied["tariff_version"]) == ("bridge-flat", 2)
        assert tariff_in_force(lane.pricing.now.tariff, NOW) == (("bridge-flat", 2),)

    def test_future_version_waits_for_its_time(self, lane: Lane) -> None:
        later = (FILE_VERSION, (2, "2026-12-05T00:00:00", 1500))
        lane.push.take(TOPIC, bundle(2, tariffs=(flat(*later),)))
        assert lane.fee() == 1000
        assert lane.fee(NOW + timedelta(days=1)) == 1500
        assert tariff_in_force(lane.pricing.now.tariff, NOW) == (("bridge-flat", 1),)

    def test_a_version_late_for_its_time_takes_effect_at_once(self, lane: Lane) -> None:
        """Central meant it for yesterday; the lane was offline: it applies now."""
        late = (FILE_VERSION, (2, "2026-12-03T00:00:00", 1300))
        assert isinstance(lane.push.take(TOPIC, bundle(2, tariffs=(flat(*late),))), Plan)
        assert lane.fee() == 1300

    def test_the_bundle_in_force_again_is_no_news(self, lane: Lane) -> None:
        raw = bundle(5, tariffs=(flat(*NEW_PRICE),))
        lane.push.take(TOPIC, raw)
        assert lane.push.take(TOPIC, raw) == Unchanged(5)
        assert len(lane.events("config_applied")) == 1
        assert lane.events("config_refused") == []

    def test_lists_and_accounts_replace_what_the_lane_had(self, lane: Lane) -> None:
        permits = (ListItem(plate="京A12345", note="staff"),)
        accounts = (
            Account(account_id="acc-1", currency="CNY", balance=5000, plates=("京B88888",)),
        )
        lane.push.take(TOPIC, bundle(3, permits=permits, accounts=accounts))
        assert lane.store.lists.lookup("京A12345", NOW) == frozenset({"permit"})
        assert lane.store.accounts.for_plate("京B88888") is not None
        lane.push.take(TOPIC, bundle(4, blacklist=(ListItem(plate="沪C00001"),)))
        assert lane.store.lists.lookup("京A12345", NOW) == frozenset({"permit"}), "null: kept"
        assert lane.store.lists.lookup("沪C00001", NOW) == frozenset({"blacklist"})
        lane.push.take(TOPIC, bundle(6, permits=()))
        assert lane.store.lists.lookup("京A12345", NOW) == frozenset()
        assert lane.fee() == 1000, "a bundle without tariffs keeps the lane's"

    def test_a_withdrawn_bundle_changes_nothing(self, lane: Lane) -> None:
        """An empty retained message deletes the broker's copy; the lane keeps its own."""
        lane.push.take(TOPIC, bundle(5, tariffs=(flat(*NEW_PRICE),)))
        assert lane.push.take(TOPIC, b"") is None
        assert (lane.fee(), lane.in_force()) == (1200, 5)
        assert lane.events("config_refused") == []

    def test_network_topic_has_its_own_versions(self, lane: Lane) -> None:
        lane.push.take(TOPIC, bundle(7, permits=()))
        decision = lane.push.take(NETWORK_CONFIG_TOPIC, bundle(2, plaza_id=None, whitelist=()))
        assert isinstance(decision, Plan)
        assert (lane.in_force(), lane.in_force(NETWORK_CONFIG_TOPIC)) == (7, 2)
        assert lane.push.version_in_force == 7

    def test_a_restart_prices_with_the_stored_tariff_not_the_file(self, tmp_path: Path) -> None:
        first = open_lane(tmp_path / "site.db")
        first.push.take(TOPIC, bundle(5, tariffs=(flat(*NEW_PRICE),)))
        first.store.close()
        again = open_lane(tmp_path / "site.db")
        try:
            assert again.fee() == 1200
            assert again.push.version_in_force == 5
            assert again.push.take(TOPIC, bundle(5, tariffs=(flat(*NEW_PRICE),))) == Unchanged(5)
        finally:
            again.store.close()

    def test_a_second_lane_of_the_store_does_not_reset_balances(self, tmp_path: Path) -> None:
        accounts = (
            Account(account_id="acc-1", currency="CNY", balance=5000, plates=("京B88888",)),
        )
        raw = bundle(3, accounts=accounts)
        first = open_lane(tmp_path / "site.db")
        first.push.take(TOPIC, raw)
        first.store.accounts.debit("acc-1", 1000, "txn-1", NOW)
        other = open_lane(tmp_path / "site.db", "bridge-2")
        try:
            assert isinstance(other.push.take(TOPIC, raw), Plan)
            account = other.store.accounts.get("acc-1")
            assert account is not None
            assert account.balance == 4000
        finally:
            first.store.close()
            other.store.close()


def refused_once(lane: Lane, raw: bytes, reason: str, topic: str = TOPIC) -> Refusal:
    """``raw`` is refused for ``reason``, the lane unchanged, one event even if sent twice."""
    before = (lane.fee(), lane.in_force(topic), lane.store.tariffs.versions("bridge-flat"))
    decision = lane.push.take(topic, raw)
    assert isinstance(decision, Refusal), decision
    assert decision.reason == reason, decision.problem
    assert lane.push.take(topic, raw) == decision
    assert (lane.fee(), lane.in_force(topic), lane.store.tariffs.versions("bridge-flat")) == before
    (event,) = lane.events("config_refused")
    assert event["reason"] == reason
    assert event["problem"] == decision.problem[:300]
    return decision


class TestRefused:
    """A bad bundle is refused with its reason; the lane keeps what it had."""

    def test_not_a_bundle(self, lane: Lane) -> None:
        decision = refused_once(lane, b"{not json", "unreadable")
        assert "not JSON" in decision.problem
        assert lane.events("config_refused")[0]["version"] is None

    def test_a_schema_error_names_the_field(self, lane: Lane) -> None:
        body = json.loads(bundle(5, tariffs=(flat(*NEW_PRICE),)))
        body["tariffs"][0]["versions"][1]["flat"]["classes"]["1"] = -5
        decision = refused_once(lane, json.dumps(body).encode(), "unreadable")
        assert "tariffs.0.versions.1" in decision.problem

    def test_older_or_replayed_version(self, lane: Lane) -> None:
        lane.push.take(TOPIC, bundle(5, tariffs=(flat(*NEW_PRICE),)))
        decision = refused_once(lane, bundle(4, permits=()), "stale")
        assert "4 is older than version 5" in decision.problem
        assert lane.events("config_refused")[0]["version"] == 4

    def test_another_bundle_under_the_version_in_force(self, lane: Lane) -> None:
        lane.push.take(TOPIC, bundle(5, permits=()))
        decision = refused_once(lane, bundle(5, whitelist=()), "stale")
        assert "with other content" in decision.problem

    def test_a_plaza_bundle_on_the_network_topic(self, lane: Lane) -> None:
        refused_once(lane, bundle(2, permits=()), "wrong_scope", NETWORK_CONFIG_TOPIC)

    def test_another_plazas_bundle_on_our_topic(self, lane: Lane) -> None:
        decision = refused_once(lane, bundle(2, plaza_id="riverside", permits=()), "unreadable")
        assert "plaza_id" in decision.problem

    def test_for_other_lanes(self, lane: Lane) -> None:
        refused_once(lane, bundle(2, lanes=("bridge-2",), permits=()), "not_for_lane")

    def test_a_network_without_the_lanes_plaza(self, lane: Lane) -> None:
        refused_once(lane, bundle(2, network=network()), "network")

    def test_the_lanes_tariff_missing(self, lane: Lane) -> None:
        decision = refused_once(lane, bundle(2, tariffs=(highway(),)), "tariff_missing")
        assert "bridge-flat" in decision.problem

    def test_a_tariff_that_does_not_compile(self, lane: Lane) -> None:
        decision = refused_once(lane, bundle(2, tariffs=(flat(FILE_VERSION), highway())), "tariff")
        assert "g60-highway" in decision.problem
        assert lane.store.tariffs.versions("g60-highway") == []

    def test_another_currency(self, lane: Lane) -> None:
        refused_once(lane, bundle(2, tariffs=(flat(*NEW_PRICE, currency="USD"),)), "currency")

    def test_another_time_zone(self, lane: Lane) -> None:
        tariff = flat(*NEW_PRICE, timezone="Europe/Paris")
        refused_once(lane, bundle(2, tariffs=(tariff,)), "timezone")

    def test_no_version_in_force_now(self, lane: Lane) -> None:
        decision = refused_once(
            lane, bundle(2, tariffs=(flat((3, "2027-01-01T00:00:00", 900)),)), "tariff"
        )
        assert "no version is in force" in decision.problem

    def test_an_issued_version_changed(self, lane: Lane) -> None:
        changed = ((1, "2026-01-01T00:00:00", 800),)
        decision = refused_once(lane, bundle(2, tariffs=(flat(*changed),)), "version_changed")
        assert "version 1" in decision.problem

    def test_a_new_version_before_one_in_force(self, lane: Lane) -> None:
        lane.push.take(TOPIC, bundle(5, tariffs=(flat(*NEW_PRICE),)))
        between = (FILE_VERSION, (3, "2026-12-04T08:00:00", 700))
        decision = refused_once(lane, bundle(6, tariffs=(flat(*between),)), "past")
        assert "before version 2" in decision.problem

    def test_a_plate_listed_twice(self, lane: Lane) -> None:
        twice = (ListItem(plate="京A12345"), ListItem(plate="京A·12345"))
        refused_once(lane, bundle(2, permits=twice), "list")

    def test_an_account_in_another_currency(self, lane: Lane) -> None:
        accounts = (Account(account_id="acc-1", currency="USD", balance=1),)
        refused_once(lane, bundle(2, accounts=accounts), "account")

    def test_a_part_the_store_refuses_rolls_back_the_rest(self, lane: Lane) -> None:
        """The stored permit list is newer: nothing of the bundle is kept, tariffs included."""
        lane.store.lists.replace("permit", 9, [ListEntry("京A12345")])
        decision = refused_once(lane, bundle(3, tariffs=(flat(*NEW_PRICE),), permits=()), "store")
        assert "older than the stored version 9" in decision.problem
        assert lane.store.lists.lookup("京A12345", NOW) == frozenset({"permit"})
        assert lane.events("config_applied") == []
        assert lane.store.config.pricing(LANE).tariff is None

    def test_a_topic_not_the_lanes(self, lane: Lane) -> None:
        with pytest.raises(ValueError, match="not one of this lane's config topics"):
            lane.push.take(plaza_config_topic("riverside"), bundle(2, permits=()))
