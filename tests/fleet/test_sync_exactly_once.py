"""Every lane record reaches central exactly once, whatever stops meanwhile (issue 16).

Real parts throughout: lane daemons are ``lanewarden edge run`` processes whose
own outboxes deliver the sealed records of their stores; central is two
``lanewarden central run`` processes in one shared subscription, storing into
SQLite or PostgreSQL; the broker is a private mosquitto without persistence.
While records keep arriving, the broker restarts having forgotten everything,
an ingest worker is SIGKILLed and another started, and a lane daemon is
SIGKILLed and started again. Central must then hold each lane's chain exactly as
the lane's store has it: every ``lane_seq`` once, nothing missing, nothing
doubled, every hash and link verified, no chain or conflict alarm. And a lane
that starts with no broker at all lets vehicles through, keeps what it records,
and hands all of it over once a broker and central appear.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import pytest
from central_db import BACKENDS, central_db_url
from lane_daemons import BatchWatch, DaemonLane, Feeder
from mqtt_broker import MosquittoBroker
from sqlalchemy import Table, func, select

from central.reports.chains import stored_chains
from central.storage import CentralStore
from central.storage.schema import lane_events, transactions
from central.testing import Central, write_config
from contracts.records.sealed import LaneEventRecord, TransactionRecord
from edge.store import verify
from fleet.driving import Driver, LaneRecords
from plumbing.testing import wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

LANES = ("exit-1", "exit-2", "exit-3")
RECORDS = 40
"""Per lane, fed in four quarters: one before and one during each outage."""
DRAIN_S = 45.0
POLL_S = 0.1
"""Between reads of a database (central's, a lane's store) while waiting."""


@dataclass
class Site:
    """The test's broker, central processes, lane daemons and batch watch."""

    folder: Path
    broker: MosquittoBroker
    centrals: list[Central]
    lanes: list[DaemonLane] = field(default_factory=list)
    watch: BatchWatch | None = None

    def start_central(self, name: str, url: str) -> Central:
        central = Central(*write_config(self.folder, name, self.broker.port, url, workers=1))
        self.centrals.append(central)
        central.wait_connected(1)
        return central


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoBroker, centrals: list[Central]) -> Iterator[Site]:
    made = Site(tmp_path, mosquitto, centrals)
    try:
        made.watch = BatchWatch(mosquitto)
        for lane_id in LANES:
            made.lanes.append(DaemonLane(tmp_path, lane_id, LANES, mosquitto))
        yield made
    finally:
        for lane in made.lanes:
            lane.close()
        if made.watch is not None:
            made.watch.close()


def held(central: CentralStore, table: Table) -> dict[str, dict[int, str]]:
    """Central's records of a stream: lane to lane_seq to the canonical JSON stored."""
    out: dict[str, dict[int, str]] = {}
    with central.engine.connect() as connection:
        rows = connection.execute(select(table.c.lane_id, table.c.lane_seq, table.c.canonical))
        for lane_id, lane_seq, canonical in rows:
            out.setdefault(lane_id, {})[int(lane_seq)] = canonical
    return out


def stored_counts(central: CentralStore) -> dict[str, int]:
    """Transactions central holds, by lane."""
    query = select(transactions.c.lane_id, func.count()).group_by(transactions.c.lane_id)
    with central.engine.connect() as connection:
        return {lane_id: int(count) for lane_id, count in connection.execute(query)}


def freeze(central: Central) -> None:
    """Stop the process where it is (a stalled worker): its broker session stays open."""
    central.proc.send_signal(signal.SIGSTOP)


def thaw(central: Central) -> None:
    central.proc.send_signal(signal.SIGCONT)


def published(watch: BatchWatch, records: int) -> bool:
    """Whether every lane has published its records up to ``records`` at least once."""
    assert not watch.errors, watch.errors
    return all(watch.sent(lane_id) >= records for lane_id in LANES)


def wait_for_central(central: CentralStore, records: int, what: str) -> None:
    """Until central holds at least ``records`` transactions of every lane."""
    wait_until(
        lambda: all(stored_counts(central).get(lane_id, 0) >= records for lane_id in LANES),
        f"{what} at central ({records} a lane)",
        DRAIN_S,
        poll_s=POLL_S,
    )


def drained(lanes: list[DaemonLane]) -> bool:
    """Every lane's store has central's ack for all its records, of both streams."""
    for lane in lanes:
        status = lane.status()
        if status.txn.acked_seq < status.txn.last_seq:
            return False
        if status.event.acked_seq < status.event.last_seq:
            return False
    return True


def assert_central_holds(central: CentralStore, lanes: list[DaemonLane]) -> None:
    """Central's copy of each lane is its store's: every record once, chains whole.

    Central's own walk of its stored chains (``central.reports.chains``) must
    find no gap, broken link or altered record; then the records are compared
    with the lane's, transactions in full, lane events up to the last central
    holds (a lane may record one more while the test reads).
    """
    lane_ids = [lane.lane_id for lane in lanes]
    broken = [chain for chain in stored_chains(central.engine, lane_ids) if not chain.ok]
    assert not broken, broken
    txns, events = held(central, transactions), held(central, lane_events)
    for lane in lanes:
        assert verify(lane.store_path).ok, lane.lane_id
        lane_txns, lane_events_ = lane.records()
        central_txns = txns.get(lane.lane_id, {})
        central_events = events.get(lane.lane_id, {})
        copies = {seq: TransactionRecord.from_json(text).hash for seq, text in central_txns.items()}
        assert copies == {r.lane_seq: r.hash for r in lane_txns}, lane.lane_id
        upto = max(central_events, default=0)
        assert upto >= lane.status().event.acked_seq
        event_copies = {
            seq: LaneEventRecord.from_json(text).hash for seq, text in central_events.items()
        }
        lane_part = {r.lane_seq: r.hash for r in lane_events_ if r.lane_seq <= upto}
        assert event_copies == lane_part, lane.lane_id
    assert set(txns) == set(lane_ids)
    for lane_id in lane_ids:
        assert central.acked_seq(lane_id, "txn") == len(txns[lane_id])
    bad = [a for a in central.alarms() if a.kind in ("chain_broken", "seq_conflict")]
    assert not bad, bad


def transaction_ids(central: CentralStore, lane_id: str) -> list[UUID]:
    """The transaction id of each record central holds of the lane."""
    stored = held(central, transactions)[lane_id].values()
    return [TransactionRecord.from_json(text).id for text in stored]


@dataclass(frozen=True)
class Database:
    """Central's database for one test, migrated before any central process starts."""

    url: str
    store: CentralStore


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with central_db_url(request.param, tmp_path) as url:
        store = CentralStore.open(url)  # migrates, before two processes race to
        try:
            yield Database(url, store)
        finally:
            store.close()


class TestExactlyOnce:
    """N lanes x M records reach central once each through broker, worker and lane failures."""

    def test_broker_restart_worker_kill_and_lane_kill(self, database: Database, site: Site) -> None:
        quarter = RECORDS // 4
        broker, centrals, lanes, watch = site.broker, site.centrals, site.lanes, site.watch
        central, url = database.store, database.url
        assert watch is not None
        site.start_central("a", url)
        site.start_central("b", url)
        for lane in lanes:
            lane.spawn()
        for lane in lanes:
            lane.wait_ready()
        feeder = Feeder(lanes)
        try:
            feeder.allow(quarter)
            wait_for_central(central, 1, "the first records")
            # (a) the broker restarts and has forgotten every session and subscription
            feeder.allow(2 * quarter)
            subscribed = watch.subscriptions
            broker.stop()
            wait_until(lambda: feeder.fed(2 * quarter), "records fed while the broker is down", 20)
            broker.start()
            wait_until(lambda: watch.subscriptions > subscribed, "the watch back", 20)
            wait_for_central(central, 2 * quarter, "the records fed while the broker was down")
            # (b) an ingest worker hangs with batches in hand, is killed outright, and
            # another takes its place
            freeze(centrals[0])
            feeder.allow(3 * quarter)
            wait_until(lambda: published(watch, 3 * quarter), "batches sent as a worker hung", 20)
            centrals[0].proc.send_signal(signal.SIGKILL)
            assert centrals[0].proc.wait(10) == -signal.SIGKILL
            site.start_central("c", url)
            wait_for_central(central, 3 * quarter, "the records the killed worker held")
            # (c) a lane daemon is killed outright with batches unacked (central stalls
            # meanwhile), and is started again while its store grows
            for worker in centrals[1:]:
                freeze(worker)
            feeder.allow(RECORDS - quarter // 2)
            wait_until(
                lambda: published(watch, RECORDS - quarter // 2),
                "batches unacked when the lane dies",
                20,
            )
            assert lanes[0].kill() == -signal.SIGKILL
            feeder.allow(RECORDS)  # and more records while it is down and starting
            lanes[0].spawn()
            lanes[0].wait_ready()
            for worker in centrals[1:]:
                thaw(worker)
            wait_until(lambda: feeder.fed(RECORDS), "every record fed", 20)
        finally:
            feeder.close()
        wait_until(
            lambda: drained(lanes), "central's acks for every lane record", DRAIN_S, poll_s=POLL_S
        )
        for worker in centrals[1:]:
            assert worker.proc.poll() is None, worker.output()[-2000:]
        assert_central_holds(central, lanes)
        for lane in lanes:  # N x M: each fed record once, and nothing else
            fed, _ = lane.records()
            assert len(fed) == RECORDS, f"{lane.lane_id}: its store has {len(fed)}"
            ids = transaction_ids(central, lane.lane_id)
            assert len(ids) == len(set(ids)) == RECORDS, lane.lane_id
        assert sum(stored_counts(central).values()) == len(LANES) * RECORDS


OFFLINE_RECORDS = 20
VEHICLES = ("皖A12345", "皖B67890")


class TestOfflineLane:
    """A lane with no broker lets vehicles through, keeps every record, and drains it all."""

    def test_drains_when_the_broker_appears(
        self,
        database: Database,
        mosquitto: MosquittoBroker,
        centrals: list[Central],
        tmp_path: Path,
    ) -> None:
        mosquitto.stop()
        lane = DaemonLane(
            tmp_path,
            "entry-1",
            ("entry-1",),
            mosquitto,
            lane_kind="parking_entry",
            policy='unreadable_plate = "admit_for_review"',
        )
        try:
            lane.spawn()
            lane.wait_ready()
            records = LaneRecords(lane.store_path, lane.lane_id)
            passages = [Driver(lane.rig, records, threading.Event()).through(p) for p in VEHICLES]
            for passage in passages:
                assert passage.drove_through, passage
                assert passage.record is not None
                assert passage.record.status == "passed", passage.record
            feeder = Feeder([lane])
            try:
                feeder.allow(OFFLINE_RECORDS)
                wait_until(lambda: feeder.fed(OFFLINE_RECORDS), "records fed offline", 20)
            finally:
                feeder.close()
            offline = lane.status()
            assert (offline.txn.acked_seq, offline.event.acked_seq) == (0, 0)
            assert offline.txn.last_seq >= OFFLINE_RECORDS + len(VEHICLES)
            assert lane.process.proc is not None
            assert lane.process.proc.poll() is None
            mosquitto.start()
            config = write_config(tmp_path, "central", mosquitto.port, database.url, workers=2)
            centrals.append(Central(*config))
            centrals[0].wait_connected(2)
            wait_until(
                lambda: drained([lane]),
                "the offline lane's backlog at central",
                DRAIN_S,
                poll_s=POLL_S,
            )
            assert_central_holds(database.store, [lane])
            assert stored_counts(database.store) == {lane.lane_id: offline.txn.last_seq}
            ids = set(transaction_ids(database.store, lane.lane_id))
            assert {passage.record.id for passage in passages if passage.record} <= ids
        finally:
            lane.close()
