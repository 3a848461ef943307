"""Ingest's handling of one message: store, ack, note gaps, refuse bad payloads by reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prometheus_client import CollectorRegistry

from central.ingest.gaps import GapTracker
from central.ingest.handler import Ingest
from central.ingest.metrics import IngestMetrics
from central.ingest.resent import claimed, seq_span
from central.storage import CentralStore
from contracts.commands import CommandResult
from contracts.mqtt.payloads import (
    Ack,
    EntryLookup,
    EntryLookupReply,
    EventBatch,
    LaneState,
    StreamCounts,
    Telemetry,
    TxnBatch,
)
from contracts.mqtt.topics import LaneTopic, lane_topic
from contracts.records.transaction import Transaction
from contracts.testing import EPOCH, event_chain, seal, transaction_chain
from contracts.uuid7 import uuid7

NOW = EPOCH + timedelta(minutes=5)
PLAZA, LANE = "riverside", "exit-1"


CHAINS = {lane: tuple(transaction_chain(lane, 20)) for lane in (LANE, "exit-2")}
"""One chain per lane for the whole module: records are built with fresh ids, so two
chains of the same lane are different records (a conflict, not a resend)."""


def txn_batch(first: int, count: int, lane: str = LANE) -> TxnBatch:
    records = CHAINS[lane][first - 1 : first - 1 + count]
    return TxnBatch(plaza_id=PLAZA, lane_id=lane, sent_at=NOW, records=records)


def topic(kind: LaneTopic, lane: str = LANE) -> str:
    return lane_topic(PLAZA, lane, kind)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    store = CentralStore.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def ingest(store: CentralStore, registry: CollectorRegistry) -> Ingest:
    return Ingest(
        store, IngestMetrics(registry), GapTracker(10, 30), clock=lambda: NOW, monotonic=lambda: 0
    )


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


class TestBatches:
    """A batch is stored once and acked with the highest contiguous lane_seq."""

    def test_stored_and_acked(self, ingest: Ingest, registry: CollectorRegistry) -> None:
        (answer,) = ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 5).to_bytes())
        assert answer.topic == "lanewarden/v1/riverside/exit-1/ack"
        assert answer.qos == 1
        ack = Ack.model_validate_json(answer.payload)
        assert (ack.stream, ack.acked_seq, ack.lane_id) == ("txn", 5, LANE)
        assert value(registry, "lanewarden_central_records_stored_total", stream="txn") == 5
        lag = value(registry, "lanewarden_central_lag_seconds", lane_id=LANE, stream="txn")
        assert lag == (NOW - txn_batch(5, 1).records[0].recorded_at).total_seconds()

    def test_a_resend_is_counted_as_duplicates_and_acked_again(
        self, ingest: Ingest, registry: CollectorRegistry
    ) -> None:
        ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 5).to_bytes())
        (answer,) = ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 5).to_bytes())
        assert Ack.model_validate_json(answer.payload).acked_seq == 5
        assert value(registry, "lanewarden_central_records_stored_total", stream="txn") == 5
        assert value(registry, "lanewarden_central_records_duplicate_total", stream="txn") == 5

    def test_a_gap_is_noted_and_the_ack_stays_below_it(
        self, ingest: Ingest, store: CentralStore
    ) -> None:
        ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 3).to_bytes())
        (answer,) = ingest.handle(topic(LaneTopic.TXN), txn_batch(6, 3).to_bytes())
        assert Ack.model_validate_json(answer.payload).acked_seq == 3
        assert ingest.gaps.open_count == 1
        (due,) = ingest.gaps.due(10.0, store.acked_seq)
        assert (due.from_seq, due.held_to) == (4, 8)
        (answer,) = ingest.handle(topic(LaneTopic.TXN), txn_batch(4, 2).to_bytes())
        assert Ack.model_validate_json(answer.payload).acked_seq == 8
        assert ingest.gaps.open_count == 0

    def test_events_are_a_stream_of_their_own(self, ingest: Ingest) -> None:
        records = tuple(event_chain(LANE, 4))
        batch = EventBatch(plaza_id=PLAZA, lane_id=LANE, sent_at=NOW, records=records)
        (answer,) = ingest.handle(topic(LaneTopic.EVENT), batch.to_bytes())
        ack = Ack.model_validate_json(answer.payload)
        assert (ack.stream, ack.acked_seq) == ("event", 4)


class TestResends:
    """A batch that only repeats held records is answered from the store, unread."""

    def test_a_resend_is_not_read_again(
        self, ingest: Ingest, store: CentralStore, registry: CollectorRegistry
    ) -> None:
        """Held hashes decide: content changed under a held hash is not read, nor stored."""
        ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 5).to_bytes())
        body = json.loads(txn_batch(2, 3).to_bytes())
        body["records"][0]["fee_total"] = 1  # the full reader would refuse this (hash)
        (answer,) = ingest.handle(topic(LaneTopic.TXN), json.dumps(body).encode())
        assert Ack.model_validate_json(answer.payload).acked_seq == 5
        assert value(registry, "lanewarden_central_records_duplicate_total", stream="txn") == 3
        assert value(registry, "lanewarden_central_payloads_rejected_total", reason="hash") == 0
        assert store.record(LANE, "txn", 2) == CHAINS[LANE][1]

    def test_a_different_hash_under_the_ack_goes_the_full_way(
        self, ingest: Ingest, store: CentralStore, registry: CollectorRegistry
    ) -> None:
        ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 3).to_bytes())
        other = tuple(transaction_chain(LANE, 3))  # fresh ids: other records, same lane_seq
        batch = TxnBatch(plaza_id=PLAZA, lane_id=LANE, sent_at=NOW, records=other[1:])
        (answer,) = ingest.handle(topic(LaneTopic.TXN), batch.to_bytes())
        assert Ack.model_validate_json(answer.payload).acked_seq == 3
        assert value(registry, "lanewarden_central_records_conflicting_total", stream="txn") == 2
        assert [a.subject for a in store.alarms()] == ["txn:2", "txn:3"]

    def test_a_batch_reaching_beyond_the_ack_is_stored(
        self, ingest: Ingest, registry: CollectorRegistry
    ) -> None:
        ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 3).to_bytes())
        (answer,) = ingest.handle(topic(LaneTopic.TXN), txn_batch(2, 4).to_bytes())
        assert Ack.model_validate_json(answer.payload).acked_seq == 5
        assert value(registry, "lanewarden_central_records_stored_total", stream="txn") == 5
        assert value(registry, "lanewarden_central_records_duplicate_total", stream="txn") == 2

    def test_a_resend_of_another_lane_is_refused(
        self, ingest: Ingest, registry: CollectorRegistry
    ) -> None:
        ingest.handle(topic(LaneTopic.TXN, "exit-2"), txn_batch(1, 3, lane="exit-2").to_bytes())
        raw = txn_batch(1, 3, lane="exit-2").to_bytes()
        assert ingest.handle(topic(LaneTopic.TXN), raw) == []
        assert value(registry, "lanewarden_central_payloads_rejected_total", reason="wrong_lane")


class TestClaimed:
    """What a resend is told by: the records' lane_seq and hash, from a clean batch only."""

    RAW = txn_batch(3, 2).to_bytes()

    def test_span_and_claims(self) -> None:
        assert seq_span(self.RAW) == (3, 4)
        records = CHAINS[LANE][2:4]
        assert claimed(self.RAW, TxnBatch, PLAZA, LANE) == [(r.lane_seq, r.hash) for r in records]

    @pytest.mark.parametrize(
        ("change", "plaza", "lane"),
        [
            ({}, "elsewhere", LANE),
            ({}, PLAZA, "exit-2"),
            ({"kind": "event_batch"}, PLAZA, LANE),
            ({"schema_version": 2}, PLAZA, LANE),
            ({"records": []}, PLAZA, LANE),
            ({"records": [1]}, PLAZA, LANE),
            ({"surprise": 1}, PLAZA, LANE),
        ],
    )
    def test_anything_but_a_clean_batch_is_left_to_the_reader(
        self, change: dict[str, Any], plaza: str, lane: str
    ) -> None:
        assert claimed(edit(self.RAW, **change), TxnBatch, plaza, lane) is None

    def test_records_out_of_order_or_without_a_hash(self) -> None:
        body = json.loads(self.RAW)
        body["records"].reverse()
        assert claimed(json.dumps(body).encode(), TxnBatch, PLAZA, LANE) is None
        body = json.loads(self.RAW)
        body["records"][1]["hash"] = None
        assert claimed(json.dumps(body).encode(), TxnBatch, PLAZA, LANE) is None
        body = json.loads(self.RAW)
        body["records"][1]["lane_seq"] = "4"
        assert claimed(json.dumps(body).encode(), TxnBatch, PLAZA, LANE) is None
        body = json.loads(self.RAW)
        body["records"][1]["surprise"] = 1
        assert claimed(json.dumps(body).encode(), TxnBatch, PLAZA, LANE) is None
        assert claimed(b"\xff{", TxnBatch, PLAZA, LANE) is None
        assert seq_span(b'{"kind": "txn_batch"}') is None


def state() -> bytes:
    return LaneState(plaza_id=PLAZA, lane_id=LANE, online=True, at=NOW).to_bytes()


def telemetry() -> bytes:
    return Telemetry(plaza_id=PLAZA, lane_id=LANE, at=NOW, uptime_s=5).to_bytes()


def lookup(plate: str = "ABC1234", lane: str = LANE) -> bytes:
    return EntryLookup(
        plaza_id=PLAZA, lane_id=lane, request_id=REQUEST, plate=plate, asked_at=NOW
    ).to_bytes()


REQUEST = UUID("0193a4c2-0000-7000-8000-000000000001")


def result() -> bytes:
    return CommandResult(command_id="c1", ok=True).model_dump_json().encode()


GOOD: dict[LaneTopic, bytes] = {
    LaneTopic.TXN: txn_batch(1, 2).to_bytes(),
    LaneTopic.STATE: state(),
    LaneTopic.TELEMETRY: telemetry(),
    LaneTopic.CMD_RESULT: result(),
    LaneTopic.LOOKUP: lookup(),
}


def edit(raw: bytes, **fields: Any) -> bytes:
    body = json.loads(raw)
    body.update(fields)
    return json.dumps(body).encode()


def bad_payloads(kind: LaneTopic) -> list[tuple[bytes, str]]:
    good = GOOD[kind]
    cases = [
        (b"\x00not json{", "not_json"),
        (edit(good, surprise=1), "schema"),
        (b" " * 5000, "too_large"),
    ]
    if kind is not LaneTopic.CMD_RESULT:  # command results carry no version or lane
        other_lane = (
            txn_batch(1, 2, lane="exit-2").to_bytes()
            if kind is LaneTopic.TXN
            else edit(good, lane_id="exit-2")
        )
        cases += [(edit(good, schema_version=2), "version"), (other_lane, "wrong_lane")]
    return cases


CASES = [
    pytest.param(kind, raw, reason, id=f"{kind.value}-{reason}")
    for kind in GOOD
    for raw, reason in bad_payloads(kind)
]


class TestRefusals:
    """Bad payloads on every topic are refused by reason and nothing of them is stored."""

    @pytest.mark.parametrize(("kind", "raw", "reason"), CASES)
    def test_refused_by_reason(
        self,
        store: CentralStore,
        registry: CollectorRegistry,
        kind: LaneTopic,
        raw: bytes,
        reason: str,
    ) -> None:
        ingest = Ingest(
            store, IngestMetrics(registry), GapTracker(10, 30), clock=lambda: NOW, limit=4096
        )
        assert ingest.handle(topic(kind), raw) == []
        assert value(registry, "lanewarden_central_payloads_rejected_total", reason=reason) == 1
        assert store.acked_seq(LANE, "txn") == 0
        assert store.acked_seq("exit-2", "txn") == 0
        assert store.command_results() == []

    def test_the_good_ones_are_taken(self, ingest: Ingest, registry: CollectorRegistry) -> None:
        for kind, raw in GOOD.items():
            ingest.handle(topic(kind), raw)
        assert (
            registry.get_sample_value(
                "lanewarden_central_payloads_rejected_total", {"reason": "schema"}
            )
            is None
        )
        assert value(registry, "lanewarden_central_command_results_total", outcome="ok") == 1

    @pytest.mark.parametrize(
        "name",
        [
            "lanewarden/v1/riverside/Exit 1/txn",
            "lanewarden/v1/riverside/exit-1/ack",
            "lanewarden/v1/riverside/exit-1/cmd",
            "lanewarden/v1/riverside/exit-1/lookup/reply",
            "lanewarden/v2/riverside/exit-1/txn",
        ],
    )
    def test_unknown_topics(self, ingest: Ingest, registry: CollectorRegistry, name: str) -> None:
        assert ingest.handle(name, txn_batch(1, 1).to_bytes()) == []
        assert value(registry, "lanewarden_central_payloads_rejected_total", reason="unknown_topic")

    def test_a_tampered_record_is_refused(
        self, ingest: Ingest, registry: CollectorRegistry
    ) -> None:
        body = json.loads(txn_batch(1, 2).to_bytes())
        body["records"][1]["plate_confidence"] = 0.5
        assert ingest.handle(topic(LaneTopic.TXN), json.dumps(body).encode()) == []
        assert value(registry, "lanewarden_central_payloads_rejected_total", reason="hash") == 1

    def test_one_log_line_each(self, ingest: Ingest) -> None:
        from structlog.testing import capture_logs

        with capture_logs() as logs:
            ingest.handle(topic(LaneTopic.TXN), b"nope")
        assert [(e["event"], e["reason"]) for e in logs] == [("payload_rejected", "not_json")]


def test_naive_clock_is_not_needed() -> None:
    """The handler's default clock is aware UTC (records are compared with it)."""
    from central.ingest.handler import utc_now

    assert utc_now().tzinfo is UTC
    assert abs((utc_now() - datetime.now(UTC)).total_seconds()) < 5


class TestCommandResults:
    """A lane's answer to a command is stored: who answered, which command, when, the outcome."""

    def test_carried_out_and_refused_are_both_kept(
        self, ingest: Ingest, store: CentralStore, registry: CollectorRegistry
    ) -> None:
        done = CommandResult(command_id="c1", ok=True, lane={"mode": "closed"})
        refused = CommandResult(command_id="c2", ok=False, error="expires_at: expired")
        assert ingest.handle(topic(LaneTopic.CMD_RESULT), done.model_dump_json().encode()) == []
        ingest.handle(topic(LaneTopic.CMD_RESULT, "exit-2"), refused.model_dump_json().encode())
        first, second = store.command_results()
        assert (first.plaza_id, first.lane_id, first.command_id, first.ok) == (
            PLAZA,
            LANE,
            "c1",
            True,
        )
        assert first.lane == {"mode": "closed"}
        assert first.received_at == NOW
        assert (second.lane_id, second.ok, second.error) == ("exit-2", False, "expires_at: expired")
        assert [r.command_id for r in store.command_results("exit-2")] == ["c2"]
        assert value(registry, "lanewarden_central_command_results_total", outcome="failed") == 1

    def test_a_repeated_answer_is_kept_once(
        self, ingest: Ingest, store: CentralStore, registry: CollectorRegistry
    ) -> None:
        for _ in range(2):
            ingest.handle(topic(LaneTopic.CMD_RESULT), result())
        assert [r.command_id for r in store.command_results()] == ["c1"]
        assert value(registry, "lanewarden_central_command_results_total", outcome="ok") == 1

    def test_an_answer_to_an_unreadable_command_is_kept_each_time(
        self, ingest: Ingest, store: CentralStore
    ) -> None:
        unreadable = CommandResult(command_id=None, ok=False, error="not a JSON object")
        for _ in range(2):
            ingest.handle(topic(LaneTopic.CMD_RESULT), unreadable.model_dump_json().encode())
        assert [(r.command_id, r.ok) for r in store.command_results()] == [(None, False)] * 2


class TestLag:
    """The lag is the last batch's until the lane says nothing waits; silence is its own gauge."""

    def test_caught_up_telemetry_sets_the_lag_of_that_stream_to_zero(
        self, ingest: Ingest, registry: CollectorRegistry
    ) -> None:
        records = tuple(event_chain(LANE, 2))
        events = EventBatch(plaza_id=PLAZA, lane_id=LANE, sent_at=NOW, records=records)
        ingest.handle(topic(LaneTopic.TXN), txn_batch(1, 3).to_bytes())
        ingest.handle(topic(LaneTopic.EVENT), events.to_bytes())
        lag = {
            stream: lambda s=stream: value(
                registry, "lanewarden_central_lag_seconds", lane_id=LANE, stream=s
            )
            for stream in ("txn", "event")
        }
        behind = lag["txn"]()
        assert behind > 0
        assert lag["event"]() > 0
        waiting = Telemetry(
            plaza_id=PLAZA, lane_id=LANE, at=NOW, uptime_s=9, backlog=StreamCounts(txn=4)
        )
        ingest.handle(topic(LaneTopic.TELEMETRY), waiting.to_bytes())
        assert lag["txn"]() == behind  # records still wait: central is still behind
        assert lag["event"]() == 0  # nothing waits in the event stream
        ingest.handle(topic(LaneTopic.TELEMETRY), telemetry())
        assert lag["txn"]() == 0

    def test_last_heard_is_the_time_of_the_lanes_latest_valid_message(
        self, store: CentralStore, registry: CollectorRegistry
    ) -> None:
        times = iter([NOW, NOW + timedelta(seconds=30), NOW + timedelta(seconds=60)])
        clock = {"now": NOW}

        def now() -> datetime:
            return clock["now"]

        ingest = Ingest(store, IngestMetrics(registry), GapTracker(10, 30), clock=now)
        heard = "lanewarden_central_lane_last_heard_timestamp_seconds"
        for kind in (LaneTopic.STATE, LaneTopic.CMD_RESULT):
            clock["now"] = next(times)
            ingest.handle(topic(kind), GOOD[kind])
            assert value(registry, heard, lane_id=LANE) == clock["now"].timestamp()
        clock["now"] = next(times)
        ingest.handle(topic(LaneTopic.TELEMETRY), b"not json")  # refused: not heard
        assert value(registry, heard, lane_id=LANE) == (NOW + timedelta(seconds=30)).timestamp()


class TestLookups:
    """A lane's entry lookup is answered from the store, to that lane's reply topic alone."""

    def test_an_open_entry_is_found(self, ingest: Ingest, registry: CollectorRegistry) -> None:
        at = NOW - timedelta(hours=1)
        entered = Transaction.build(
            id=uuid7(at),
            lane_id="north-entry",
            kind="entry",
            status="passed",
            authorisation="rule",
            recorded_at=at,
            plate_text="皖A·12345",
            vehicle_class=3,
            entry_time=at,
        )
        (record,) = seal([entered])
        ingest.store.store_batch(
            "north",
            TxnBatch(plaza_id="north", lane_id="north-entry", sent_at=NOW, records=(record,)),
            NOW,
        )
        (answer,) = ingest.handle(topic(LaneTopic.LOOKUP, "exit-2"), lookup("皖A12345", "exit-2"))
        assert answer.topic == "lanewarden/v1/riverside/exit-2/lookup/reply"
        assert answer.qos == 1
        reply = EntryLookupReply.model_validate_json(answer.payload)
        assert (reply.request_id, reply.plate, reply.lane_id) == (REQUEST, "皖A12345", "exit-2")
        assert reply.entry is not None
        assert (reply.entry.txn_id, reply.entry.plaza_id, reply.entry.lane_id) == (
            entered.id,
            "north",
            "north-entry",
        )
        assert (reply.entry.entry_time, reply.entry.vehicle_class) == (at, 3)
        assert value(registry, "lanewarden_central_entry_lookups_total", outcome="found") == 1

    def test_no_entry_is_answered_none(self, ingest: Ingest, registry: CollectorRegistry) -> None:
        (answer,) = ingest.handle(topic(LaneTopic.LOOKUP), lookup("NOPE99"))
        reply = EntryLookupReply.model_validate_json(answer.payload)
        assert reply.entry is None
        assert value(registry, "lanewarden_central_entry_lookups_total", outcome="none") == 1
