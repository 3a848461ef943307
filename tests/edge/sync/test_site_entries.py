"""Parking entries replicated to the site's lanes: central republishes, each lane applies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker
from prometheus_client import CollectorRegistry

from central.ingest.gaps import GapTracker
from central.ingest.handler import Ingest
from central.ingest.metrics import IngestMetrics
from central.ingest.service import IngestService
from central.storage import CentralStore
from central.testing import ingest_config
from contracts.mqtt.payloads import EntryNotice, LaneState, PayloadError, parse_payload
from contracts.mqtt.topics import LaneTopic, lane_topic
from contracts.records.sealed import TransactionRecord
from contracts.records.transaction import Transaction
from contracts.testing import SealedLane as Lane
from contracts.uuid7 import uuid7
from edge.daemon.lookup import LocalEntries
from edge.daemon.testing import PLATE, seed_entry
from edge.store import Store
from edge.sync import LaneFacts, SyncService
from edge.sync.entries import EntryReplica
from edge.sync.testing import running, sync_config
from plumbing.testing import wait_until

PLAZA, ENTRY, EXIT, EXIT_2 = "riverside", "riverside-entry", "riverside-exit", "riverside-exit-2"
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def txn(lane: str, kind: str, status: str, at: datetime, **fields: object) -> Transaction:
    return Transaction.build(
        id=uuid7(at),
        lane_id=lane,
        kind=kind,
        status=status,
        recorded_at=at,
        plate_text=PLATE,
        vehicle_class=1,
        **fields,
    )


def entered(at: datetime = AT) -> Transaction:
    return txn(ENTRY, "entry", "passed", at, authorisation="rule", entry_time=at)


def notice(lane: str, *records: TransactionRecord) -> bytes:
    return EntryNotice(plaza_id=PLAZA, lane_id=lane, records=records).to_bytes()


def sealed(*contents: Transaction) -> tuple[TransactionRecord, ...]:
    return Lane(PLAZA, contents[0].lane_id).txns(*contents).records


class TestNotice:
    """A notice carries sealed entries and exits of other lanes, and nothing else."""

    def test_a_notice_round_trips(self) -> None:
        raw = notice(EXIT, *sealed(entered()))
        (record,) = parse_payload(EntryNotice, raw, plaza_id=PLAZA, lane_id=EXIT).records
        assert record.kind == "entry"

    @pytest.mark.parametrize(
        ("records", "says"),
        [
            (lambda: sealed(txn(ENTRY, "entry", "voided", AT)), "a voided entry opens or closes"),
            (lambda: sealed(txn(EXIT, "exit", "passed", AT)), "the lane's own record"),
        ],
    )
    def test_what_is_not_for_it_is_refused(self, records: object, says: str) -> None:
        with pytest.raises(ValueError, match=says):
            EntryNotice(plaza_id=PLAZA, lane_id=EXIT, records=records())  # type: ignore[operator]

    def test_a_changed_record_fails_its_hash(self) -> None:
        body = json.loads(notice(EXIT, *sealed(entered())))
        body["records"][0]["vehicle_class"] = 9
        with pytest.raises(PayloadError, match="hash") as caught:
            parse_payload(EntryNotice, json.dumps(body), plaza_id=PLAZA, lane_id=EXIT)
        assert caught.value.reason == "hash"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    store = CentralStore.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    yield store
    store.close()


class TestCentral:
    """Central sends a batch's entries and exits to every other lane of the plaza."""

    def test_entries_go_to_the_site_s_other_lanes(self, store: CentralStore) -> None:
        registry = CollectorRegistry()
        ingest = Ingest(store, IngestMetrics(registry), GapTracker(10, 30))
        for plaza, lane in [(PLAZA, ENTRY), (PLAZA, EXIT), (PLAZA, EXIT_2), ("north", "n-1")]:
            state = LaneState(plaza_id=plaza, lane_id=lane, online=True, at=AT)
            store.note_state(state, AT)
        lane = Lane(PLAZA, ENTRY)
        arrived = txn(ENTRY, "entry", "arrived", AT)
        batch = lane.txns(arrived, entered())
        ack, *notices = ingest.handle(lane_topic(PLAZA, ENTRY, LaneTopic.TXN), batch.to_bytes())
        assert ack.topic == lane_topic(PLAZA, ENTRY, LaneTopic.ACK)
        assert [n.topic for n in notices] == [
            lane_topic(PLAZA, EXIT, LaneTopic.ENTRIES),
            lane_topic(PLAZA, EXIT_2, LaneTopic.ENTRIES),
        ]
        for sent, receiver in zip(notices, (EXIT, EXIT_2), strict=True):
            got = parse_payload(EntryNotice, sent.payload, plaza_id=PLAZA, lane_id=receiver)
            assert got.records == (batch.records[1],)  # the passed entry, not the arrival
        assert registry.get_sample_value("lanewarden_central_entries_replicated_total") == 2
        only_ack = ingest.handle(
            lane_topic(PLAZA, ENTRY, LaneTopic.TXN), lane.txns(arrived).to_bytes()
        )
        assert len(only_ack) == 1


class TestLane:
    """A lane applies the site's entries and exits to its open entries, and refuses junk."""

    def test_an_entry_elsewhere_then_an_exit_elsewhere(self, tmp_path: Path) -> None:
        replica = EntryReplica(PLAZA, EXIT)
        (entry_record,) = sealed(entered())
        left = txn(EXIT_2, "exit", "passed", AT + timedelta(hours=1), entry_txn_id=entry_record.id)
        with Store.open(tmp_path / "exit.db") as store:
            replica.take(store, notice(EXIT, entry_record))
            replica.take(store, notice(EXIT, entry_record))  # a resend
            found = LocalEntries(store, PLAZA).find(PLATE)
            assert found is not None
            assert (found.txn_id, found.lane_id, found.at) == (entry_record.id, ENTRY, AT)
            replica.take(store, notice(EXIT, *sealed(left)))
            assert store.entries.find(PLATE) is None
            assert store.sync_status(EXIT).txn.last_seq == 0  # no record of the lane's own
        assert replica.applied == {"opened": 1, "none": 1, "closed": 1}

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            (b"\x00not json", "not_json"),
            (lambda: notice(EXIT_2, *sealed(entered())), "wrong_lane"),
            (b'{"kind": "entry_notice", "schema_version": 1, "records": []}', "schema"),
        ],
    )
    def test_junk_is_refused_and_the_store_left_alone(
        self, tmp_path: Path, raw: object, reason: str
    ) -> None:
        replica = EntryReplica(PLAZA, EXIT)
        payload = raw() if callable(raw) else raw
        with Store.open(tmp_path / "exit.db") as store:
            replica.take(store, payload)  # type: ignore[arg-type]
            assert store.entries.count() == 0
        assert replica.refused == {reason: 1}


@pytest.mark.services
class TestOverTheBroker:
    """An entry taken at the site's entry lane reaches the exit lane's own store."""

    def test_the_exit_lane_learns_the_entry(
        self, private_broker: MosquittoBroker | AmqttBroker, store: CentralStore, tmp_path: Path
    ) -> None:
        broker = private_broker
        record = seed_entry(tmp_path / "entry.db")  # the entry lane's own store
        Store.open(tmp_path / "exit.db").close()
        central = IngestService(ingest_config(broker.port, mqtt5=broker.mqtt5), store)
        central.start()
        config = sync_config(broker.host, broker.port)
        tz = ZoneInfo("Asia/Shanghai")
        exit_sync = SyncService(config, LaneFacts(PLAZA, EXIT, tz), tmp_path / "exit.db")
        entry_sync = SyncService(config, LaneFacts(PLAZA, ENTRY, tz), tmp_path / "entry.db")
        try:
            wait_until(lambda: central.healthy, "the workers to subscribe", 10, tick=central.tick)
            with running(exit_sync):
                wait_until(lambda: EXIT in store.site_lanes(PLAZA), "the exit lane known", 10)
                with running(entry_sync):
                    deadline = time.monotonic() + 10
                    while not exit_sync.site_entries.applied:
                        assert time.monotonic() < deadline, "no entry reached the exit lane"
                        time.sleep(0.02)
            with Store.open(tmp_path / "exit.db") as exit_store:
                found = LocalEntries(exit_store, PLAZA).find(PLATE)
        finally:
            central.stop()
        assert found is not None
        assert (found.txn_id, found.lane_id) == (record.id, ENTRY)
        assert exit_sync.site_entries.applied == {"opened": 1}
