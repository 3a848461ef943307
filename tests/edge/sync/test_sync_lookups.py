"""Remote entry lookups: a highway exit asks central, waits briefly, and refuses bad answers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import AmqttBroker, MosquittoBroker
from paho.mqtt.enums import CallbackAPIVersion
from structlog.testing import capture_logs

from central.ingest.service import IngestService
from central.storage import CentralStore
from central.testing import ingest_config
from contracts.mqtt.payloads import EntryLookup, EntryLookupReply, StoredEntry
from contracts.mqtt.topics import LaneTopic, lane_topic
from contracts.records.transaction import Transaction
from contracts.testing import SealedLane as Lane
from contracts.uuid7 import uuid7
from edge.store import Store
from edge.sync import LaneFacts, SyncService
from edge.sync.lookups import RemoteLookups
from edge.sync.testing import sync_config
from plumbing.testing import wait_until

PLAZA, LANE = "south", "south-exit"
PLATE = "皖A12345"
ENTERED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def reply_to(raw: bytes, entry: StoredEntry | None = None, **changes: Any) -> bytes:
    asked = EntryLookup.model_validate_json(raw)
    body = EntryLookupReply(
        plaza_id=asked.plaza_id,
        lane_id=asked.lane_id,
        request_id=asked.request_id,
        plate=asked.plate,
        entry=entry,
        answered_at=datetime.now(UTC),
    ).model_dump(mode="json")
    body.update(changes)
    return json.dumps(body).encode()


STORED = StoredEntry(
    txn_id=UUID("0193a4c2-0000-7000-8000-00000000002a"),
    plaza_id="north",
    lane_id="north-entry",
    entry_time=ENTERED,
    vehicle_class=2,
)


class FakeCentral:
    """Takes each request as sync would publish it; answers it from another thread or not."""

    def __init__(self, lookups: RemoteLookups, *, answers: bool) -> None:
        self.lookups = lookups
        self.answers = answers
        self.asked: list[bytes] = []

    def send(self, raw: bytes) -> bool:
        self.asked.append(raw)
        if self.answers:
            threading.Timer(0.01, self.lookups.take, (reply_to(raw, STORED),)).start()
        return True


def lookups(timeout_s: float = 0.3) -> RemoteLookups:
    return RemoteLookups(PLAZA, LANE, "g60", timeout_s, asyncio.get_running_loop())


class TestAsking:
    """One request, one answer by request id; no answer in time is no answer."""

    def test_central_s_entry_comes_back(self) -> None:
        async def scenario() -> None:
            remote = lookups()
            central = FakeCentral(remote, answers=True)
            remote.send = central.send
            answer = await remote.ask(PLATE)
            assert answer.answered
            assert answer.entry == STORED
            (raw,) = central.asked
            asked = EntryLookup.model_validate_json(raw)
            assert (asked.plaza_id, asked.lane_id, asked.plate, asked.network_id) == (
                PLAZA,
                LANE,
                PLATE,
                "g60",
            )
            assert remote.outcomes == {"found": 1}

        asyncio.run(scenario())

    def test_no_broker_answers_at_once(self) -> None:
        async def scenario() -> None:
            remote = lookups(timeout_s=5)
            started = time.monotonic()
            answer = await remote.ask(PLATE)  # no sync attached
            assert not answer.answered
            assert time.monotonic() - started < 0.5
            remote.send = lambda _raw: False  # attached, not connected
            assert not (await remote.ask(PLATE)).answered
            assert remote.outcomes == {"offline": 2}

        asyncio.run(scenario())

    def test_silence_is_no_answer_after_the_timeout(self) -> None:
        async def scenario() -> None:
            remote = lookups(timeout_s=0.2)
            remote.send = FakeCentral(remote, answers=False).send
            started = time.monotonic()
            answer = await remote.ask(PLATE)
            waited = time.monotonic() - started
            assert not answer.answered
            assert "no answer within 0.2 s" in answer.why
            assert 0.2 <= waited < 0.6
            assert remote.outcomes == {"timeout": 1}

        asyncio.run(scenario())

    def test_a_timeout_must_be_positive(self) -> None:
        async def scenario() -> None:
            with pytest.raises(ValueError, match="timeout_s: must be above 0"):
                lookups(timeout_s=0)

        asyncio.run(scenario())


class TestBadReplies:
    """Replies that answer nothing in flight, or are not replies, are counted and dropped."""

    @pytest.mark.parametrize(
        ("bad", "reason"),
        [
            (b"\xffnot json", "not_json"),
            (b'{"kind": "entry_lookup_reply", "schema_version": 1}', "schema"),
            (b"x", "not_json"),
        ],
    )
    def test_unreadable_replies(self, bad: bytes, reason: str) -> None:
        async def scenario() -> None:
            remote = lookups()
            with capture_logs() as logs:
                remote.take(bad)
            assert remote.refused == {reason: 1}
            assert logs[0]["event"] == "entry_lookup_reply_refused"

        asyncio.run(scenario())

    def test_a_wrong_reply_does_not_end_the_wait_for_the_right_one(self) -> None:
        async def scenario() -> None:
            remote = lookups(timeout_s=2)
            wrong: list[bytes] = []

            def send(raw: bytes) -> bool:
                good = reply_to(raw, STORED)
                wrong.extend(
                    [
                        reply_to(raw, STORED, plate="皖B00000"),
                        reply_to(raw, STORED, lane_id="south-exit-2"),
                        reply_to(raw, STORED, request_id="0193a4c2-0000-7000-8000-0000000000ff"),
                    ]
                )
                for index, answer in enumerate([*wrong, good]):
                    threading.Timer(0.02 * (index + 1), remote.take, (answer,)).start()
                return True

            remote.send = send
            answer = await remote.ask(PLATE)
            assert answer.answered
            assert answer.entry == STORED
            assert remote.refused == {"wrong_plate": 1, "wrong_lane": 1, "unknown_request": 1}
            remote.take(wrong[0])  # the same answer once more, after the wait ended
            await asyncio.sleep(0.05)
            assert remote.refused["unknown_request"] == 2

        asyncio.run(scenario())


# -- with the real broker and central's ingest ------------------------------------------------


@pytest.fixture
def central_store(tmp_path: Path) -> Iterator[CentralStore]:
    store = CentralStore.open(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    entered = Transaction.build(
        id=uuid7(ENTERED),
        lane_id="north-entry",
        kind="entry",
        status="passed",
        authorisation="rule",
        recorded_at=ENTERED,
        plate_text=PLATE,
        vehicle_class=2,
        entry_time=ENTERED,
    )
    store.store_batch("north", Lane("north", "north-entry").txns(entered), ENTERED)
    yield store
    store.close()


def garbage(host: str, port: int, payloads: list[bytes]) -> None:
    """Publish ``payloads`` on the lane's reply topic, as a broken or hostile central would."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"garbage-{time.monotonic_ns()}")
    client.connect(host, port)
    client.loop_start()
    try:
        for payload in payloads:
            info = client.publish(lane_topic(PLAZA, LANE, LaneTopic.LOOKUP_REPLY), payload, qos=1)
            info.wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.services
class TestOverTheBroker:
    """An exit lane's sync asks central's ingest through the broker and gets the entry."""

    def test_entry_from_central_then_silence_when_central_is_gone(
        self,
        private_broker: MosquittoBroker | AmqttBroker,
        central_store: CentralStore,
        tmp_path: Path,
    ) -> None:
        broker = private_broker
        central = IngestService(ingest_config(broker.port, mqtt5=broker.mqtt5), central_store)
        central.start()
        try:
            wait_until(lambda: central.healthy, "the workers to subscribe", 10, tick=central.tick)
            asyncio.run(self.scenario(broker, central, tmp_path))
        finally:
            central.stop()
        assert (
            central.registry.get_sample_value(
                "lanewarden_central_entry_lookups_total", {"outcome": "found"}
            )
            == 1
        )

    async def scenario(
        self, broker: MosquittoBroker | AmqttBroker, central: IngestService, tmp_path: Path
    ) -> None:
        remote = RemoteLookups(PLAZA, LANE, "g60", 1.5, asyncio.get_running_loop())
        facts = LaneFacts(plaza_id=PLAZA, lane_id=LANE, tz=ZoneInfo("Asia/Shanghai"))
        config = sync_config(broker.host, broker.port, lookup_timeout_s=1.5)
        Store.open(tmp_path / "lane.db").close()  # the lane's store, as the daemon made it
        sync = SyncService(config, facts, tmp_path / "lane.db", lookups=remote)
        sync.start()
        try:
            deadline = time.monotonic() + 10
            while not sync.online:
                assert time.monotonic() < deadline, "the lane never connected"
                await asyncio.sleep(0.02)
            started = time.monotonic()
            answer = await remote.ask("皖A·12345")
            assert time.monotonic() - started < 1.0
            assert answer.answered
            assert answer.entry is not None
            assert (answer.entry.plaza_id, answer.entry.lane_id) == ("north", "north-entry")
            assert answer.entry.entry_time == ENTERED
            assert answer.entry.vehicle_class == 2
            nothing = await remote.ask("皖Z99999")
            assert (nothing.answered, nothing.entry) == (True, None)
            # A broken central's answers are refused; the lane's sync goes on.
            await asyncio.to_thread(
                garbage, broker.host, broker.port, [b"not json", b"{}", b'{"kind": 1}']
            )
            deadline = time.monotonic() + 5
            while sum(remote.refused.values()) < 3:
                assert time.monotonic() < deadline, f"refusals: {remote.refused}"
                await asyncio.sleep(0.02)
            assert remote.refused == {"not_json": 1, "version": 2}
            assert sync.failure is None
            central.stop()  # central is gone, the broker stays: the exit waits its timeout
            started = time.monotonic()
            silent = await remote.ask(PLATE)
            assert not silent.answered
            assert 1.5 <= time.monotonic() - started < 2.5
            assert remote.outcomes == {"found": 1, "none": 1, "timeout": 1}
        finally:
            await asyncio.to_thread(sync.stop)
