"""A highway exit daemon asks central for the entry it does not have, through the real broker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker
from paths import REPO

from central.ingest.service import IngestService
from central.storage import CentralStore
from central.testing import ingest_config
from contracts.records.sealed import TransactionRecord
from contracts.records.transaction import Transaction
from contracts.testing import SealedLane
from contracts.uuid7 import uuid7
from edge.config.lane import load_lane
from edge.daemon.testing import PLATE, lane_files
from edge.fees.engine import quote
from edge.fees.files import load_tariff
from edge.fees.passage import FeeQuery
from edge.lane.records import Flag
from edge.sync.testing import sync_section
from fleet.testing import FakeLane, run
from plumbing.testing import wait_until

pytestmark = pytest.mark.services
Broker = MosquittoBroker | AmqttBroker


def highway_exit(tmp_path: Path, broker: Broker, timeout_s: float) -> FakeLane:
    sync = sync_section(broker, settings=f"lookup_timeout_s = {timeout_s}")
    return FakeLane(load_lane(lane_files(tmp_path, highway=True, extra=sync)))


def priced(lane: FakeLane) -> TransactionRecord | None:
    """The first version of the vehicle's transaction with a fee."""
    return next((r for r in lane.records() if r.fee_total is not None), None)


async def online(lane: FakeLane) -> None:
    await lane.settle(lambda: lane.daemon.sync is not None and lane.daemon.sync.online, "sync")


@pytest.fixture
def entered() -> Transaction:
    at = datetime.now(UTC) - timedelta(hours=1)
    return Transaction.build(
        id=uuid7(at),
        lane_id="north-entry",
        kind="entry",
        status="passed",
        authorisation="rule",
        recorded_at=at,
        plate_text=PLATE,
        vehicle_class=1,
        entry_time=at,
    )


@pytest.fixture
def central(
    private_broker: Broker, tmp_path: Path, entered: Transaction
) -> Iterator[IngestService]:
    store = CentralStore.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    store.store_batch(
        "north", SealedLane("north", "north-entry").txns(entered), entered.recorded_at
    )
    service = IngestService(ingest_config(private_broker.port, mqtt5=private_broker.mqtt5), store)
    service.start()
    try:
        wait_until(lambda: service.healthy, "the workers to subscribe", 10, tick=service.tick)
        yield service
    finally:
        service.stop()
        store.close()


async def priced_exit(lane: FakeLane) -> None:
    """A vehicle at the connected exit, until its fee is recorded."""
    await online(lane)
    await lane.arrive()
    await lane.settle(lambda: priced(lane) is not None, "the exit priced")


class TestHighwayExit:
    """The exit is priced from central's entry, or by the missing-entry rule without it."""

    def test_the_entry_at_north_prices_the_exit(
        self,
        private_broker: Broker,
        central: IngestService,
        entered: Transaction,
        tmp_path: Path,
    ) -> None:
        lane = highway_exit(tmp_path / "lane", private_broker, timeout_s=3.0)

        run(lane, priced_exit)
        record = priced(lane)
        assert record is not None
        assert (record.entry_txn_id, record.entry_plaza) == (entered.id, "north")
        assert record.entry_time == entered.entry_time
        tariff = load_tariff(REPO / "config/tariffs/g60-highway.toml")
        expected = quote(
            tariff,
            FeeQuery(
                exit=record.recorded_at,
                entry=entered.entry_time,
                entry_plaza="north",
                exit_plaza="south",
            ),
        )
        assert record.fee_total == expected.total
        assert Flag.UNMATCHED_EXIT not in record.flags
        found = central.registry.get_sample_value(
            "lanewarden_central_entry_lookups_total", {"outcome": "found"}
        )
        assert found == 1
        sample = lane.daemon.registry.get_sample_value(
            "lanewarden_sync_entry_lookups_total", {"outcome": "found"}
        )
        assert sample == 1

    def test_no_central_is_the_missing_entry_rule_after_the_timeout(
        self, private_broker: Broker, tmp_path: Path
    ) -> None:
        lane = highway_exit(tmp_path / "lane", private_broker, timeout_s=0.5)

        run(lane, priced_exit)
        record = priced(lane)
        assert record is not None
        assert record.entry_txn_id is None
        assert set(record.flags) >= {Flag.UNMATCHED_EXIT, Flag.ENTRY_LOOKUP_UNANSWERED}
        tariff = load_tariff(REPO / "config/tariffs/g60-highway.toml")
        missing = quote(tariff, FeeQuery(exit=record.recorded_at, exit_plaza="south"))
        assert record.fee_total == missing.total
        sample = lane.daemon.registry.get_sample_value(
            "lanewarden_sync_entry_lookups_total", {"outcome": "timeout"}
        )
        assert sample == 1

    def test_the_lane_serves_events_while_it_waits(
        self, private_broker: Broker, tmp_path: Path
    ) -> None:
        """The lookup is a task: a vehicle backing out meanwhile is voided at once."""
        lane = highway_exit(tmp_path / "lane", private_broker, timeout_s=3.0)
        waited: list[float] = []

        async def scenario(lane: FakeLane) -> None:
            await online(lane)
            lookups = lane.daemon.lookups
            assert lookups is not None
            await lane.arrive()
            await lane.settle(lambda: lookups.in_flight == 1, "the lookup asked")
            started = time.monotonic()
            lane.devices.loops.set(arming=False)  # backs out while central is silent
            await lane.settle(
                lambda: any(r.status == "voided" for r in lane.latest()), "the vehicle voided"
            )
            waited.append(time.monotonic() - started)
            await lane.settle(lambda: lookups.in_flight == 0, "the lookup timed out", 5)

        run(lane, scenario)
        assert waited[0] < 1.0
        (record,) = lane.latest()
        assert record.status == "voided"
        assert record.fee_total is None  # the late answer changed nothing
