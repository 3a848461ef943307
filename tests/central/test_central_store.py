"""Central's store on SQLite and PostgreSQL: idempotent batches, acks, gaps, chains, registry."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from central_db import BACKENDS, central_db_url
from sqlalchemy import JSON, Column, MetaData, Table, func, select

from central.storage import AlarmError, CentralStore, StoreUrlError, migrate
from central.storage.bulk import pg_binary_type
from central.storage.schema import (
    day_totals,
    lane_events,
    lane_telemetry,
    lanes,
    metadata,
    stream_acks,
    transactions,
)
from contracts.commands import CommandResult
from contracts.mqtt.payloads import (
    DayTotal,
    EventBatch,
    LaneState,
    StreamCounts,
    Telemetry,
    TxnBatch,
)
from contracts.records.sealed import GENESIS_HASH, TransactionRecord
from contracts.testing import EPOCH, event_chain, paid_exit, transaction_chain

PLAZA = "plaza-1"
LANE = "lane-1"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with central_db_url(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def store(url: str) -> Iterator[CentralStore]:
    with CentralStore.open(url) as opened:
        yield opened


def txns(records: Sequence[TransactionRecord], lane: str = LANE) -> TxnBatch:
    return TxnBatch(plaza_id=PLAZA, lane_id=lane, sent_at=NOW, records=tuple(records))


def chain(count: int, lane: str = LANE) -> list[TransactionRecord]:
    return list(transaction_chain(lane, count))


def count(store: CentralStore, table: Table) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def lane_row(store: CentralStore, lane: str = LANE) -> dict[str, object]:
    with store.engine.connect() as connection:
        row = connection.execute(select(lanes).where(lanes.c.lane_id == lane)).mappings().one()
    return dict(row)


def at_utc(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TestOpen:
    """Opening migrates a fresh database to the schema the code defines."""

    def test_fresh_store_is_at_head_with_every_table(self, url: str) -> None:
        with CentralStore.open(url) as store, store.engine.connect() as connection:
            assert migrate.current(connection) == migrate.head()
            assert store.acked_seq(LANE, "txn") == 0
            assert count(store, transactions) == 0

    def test_opening_again_keeps_what_is_stored(self, url: str) -> None:
        with CentralStore.open(url) as store:
            store.store_batch(PLAZA, txns(chain(3)), NOW)
        with CentralStore.open(url) as store:
            assert store.acked_seq(LANE, "txn") == 3

    def test_migration_matches_the_table_metadata(self, store: CentralStore) -> None:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []

    @pytest.mark.parametrize(
        ("bad", "says"),
        [
            ("mysql://root@localhost/central", "'mysql' is not supported"),
            ("not a url", "not a URL"),
            ("sqlite://", "SQLite needs a file"),
        ],
    )
    def test_a_url_it_cannot_use_is_refused_by_name(self, bad: str, says: str) -> None:
        with pytest.raises(StoreUrlError, match=says):
            CentralStore.open(bad)


class TestBatches:
    """A batch is stored once, whatever the order and however often it comes."""

    def test_a_batch_stores_and_acks(self, store: CentralStore) -> None:
        records = chain(5)
        outcome = store.store_batch(PLAZA, txns(records), NOW)
        assert (outcome.stored, outcome.duplicates, outcome.acked_seq) == (5, 0, 5)
        assert (outcome.gap_from, outcome.conflicts, outcome.chain_breaks) == (None, (), ())
        assert store.acked_seq(LANE, "txn") == 5
        assert store.record(LANE, "txn", 3) == records[2]
        with store.engine.connect() as connection:
            row = (
                connection.execute(select(transactions).where(transactions.c.lane_seq == 3))
                .mappings()
                .one()
            )
        assert (row["plaza_id"], row["kind"], row["status"]) == (PLAZA, "exit", "passed")
        assert (row["plate_text"], row["fee_total"], row["currency"]) == ("ABC1234", 250, "USD")
        assert (row["tariff_id"], row["tariff_version"], row["payment_method"]) == (
            "demo-parking",
            1,
            "terminal",
        )
        assert at_utc(row["recorded_at"]) == records[2].recorded_at
        assert row["canonical"] == records[2].to_json()

    def test_the_same_batch_again_is_all_duplicates(self, store: CentralStore) -> None:
        batch = txns(chain(5))
        store.store_batch(PLAZA, batch, NOW)
        again = store.store_batch(PLAZA, batch, NOW)
        assert (again.stored, again.duplicates, again.acked_seq) == (0, 5, 5)
        assert count(store, transactions) == 5

    def test_out_of_order_batches_leave_a_gap_that_filling_closes(
        self, store: CentralStore
    ) -> None:
        records = chain(10)
        later = store.store_batch(PLAZA, txns(records[5:]), NOW)
        assert (later.stored, later.acked_seq, later.gap_from) == (5, 0, 1)
        filled = store.store_batch(PLAZA, txns(records[:5]), NOW)
        assert (filled.stored, filled.acked_seq, filled.gap_from) == (5, 10, None)
        assert filled.chain_breaks == ()

    def test_a_hole_in_the_middle_is_asked_for_until_filled(self, store: CentralStore) -> None:
        records = chain(9)
        store.store_batch(PLAZA, txns(records[:3]), NOW)
        gap = store.store_batch(PLAZA, txns(records[6:]), NOW)
        assert (gap.acked_seq, gap.gap_from) == (3, 4)
        filled = store.store_batch(PLAZA, txns(records[3:6]), NOW)
        assert (filled.acked_seq, filled.gap_from) == (9, None)

    def test_the_ack_runs_on_through_many_windows_of_held_records(self, url: str) -> None:
        records = chain(30)
        with CentralStore.open(url, advance_window=4) as store:
            for start in range(1, 30, 7):
                store.store_batch(PLAZA, txns(records[start : start + 7]), NOW)
            assert store.acked_seq(LANE, "txn") == 0
            outcome = store.store_batch(PLAZA, txns(records[:1]), NOW)
        assert (outcome.acked_seq, outcome.gap_from) == (30, None)

    def test_a_resend_overlapping_what_is_held_stores_only_the_rest(
        self, store: CentralStore
    ) -> None:
        records = chain(8)
        store.store_batch(PLAZA, txns(records[:5]), NOW)
        outcome = store.store_batch(PLAZA, txns(records[2:]), NOW)
        assert (outcome.stored, outcome.duplicates, outcome.acked_seq) == (3, 3, 8)
        assert outcome.chain_breaks == ()

    def test_the_two_streams_and_two_lanes_ack_apart(self, store: CentralStore) -> None:
        store.store_batch(PLAZA, txns(chain(4)), NOW)
        store.store_batch(PLAZA, txns(chain(2, "lane-2"), "lane-2"), NOW)
        events = EventBatch(
            plaza_id=PLAZA, lane_id=LANE, sent_at=NOW, records=tuple(event_chain(LANE, 3))
        )
        outcome = store.store_batch(PLAZA, events, NOW)
        assert (outcome.stream, outcome.stored, outcome.acked_seq) == ("event", 3, 3)
        assert store.acked_seq(LANE, "txn") == 4
        assert store.acked_seq("lane-2", "txn") == 2
        assert store.acked_seq(LANE, "event") == 3
        assert count(store, lane_events) == 3
        stored = store.record(LANE, "event", 2)
        assert stored is not None
        assert stored.hash == events.records[1].hash

    def test_a_batch_of_another_plaza_is_refused(self, store: CentralStore) -> None:
        with pytest.raises(ValueError, match="plaza_id: the batch of lane 'lane-1' names plaza"):
            store.store_batch("plaza-2", txns(chain(1)), NOW)
        assert count(store, transactions) == 0

    def test_a_naive_receive_time_is_refused(self, store: CentralStore) -> None:
        with pytest.raises(ValueError, match=r"received_at: .* has no time zone"):
            store.store_batch(PLAZA, txns(chain(1)), datetime(2026, 12, 1, 12))


class TestConflicts:
    """A different record under a lane_seq already held is refused and raises an alarm."""

    def test_a_changed_record_is_a_conflict_and_the_original_stays(
        self, store: CentralStore
    ) -> None:
        records = chain(5)
        store.store_batch(PLAZA, txns(records), NOW)
        forged, _ = TransactionRecord.seal(
            paid_exit(LANE, EPOCH + timedelta(minutes=1), fee=1), 3, records[1].hash
        )
        outcome = store.store_batch(PLAZA, txns([forged]), NOW)
        assert (outcome.stored, outcome.duplicates, outcome.conflicts) == (0, 0, (3,))
        assert outcome.acked_seq == 5
        kept = store.record(LANE, "txn", 3)
        assert kept is not None
        assert kept.hash == records[2].hash
        [alarm] = store.alarms(state="open")
        assert (alarm.kind, alarm.lane_id, alarm.subject) == ("seq_conflict", LANE, "txn:3")


class TestChain:
    """The hash chain is checked inside a batch, across batches and when a gap fills."""

    def test_a_break_inside_a_batch(self, store: CentralStore) -> None:
        good = chain(2)
        broken = list(transaction_chain(LANE, 3, first_seq=3, prev_hash="f" * 64))
        outcome = store.store_batch(PLAZA, txns(good + broken), NOW)
        assert outcome.chain_breaks == (3,)
        assert outcome.acked_seq == 5  # stored all the same: the break is evidence
        [alarm] = store.alarms(lane_id=LANE)
        assert (alarm.kind, alarm.state, alarm.subject, alarm.plaza_id) == (
            "chain_broken",
            "open",
            "txn:3",
            PLAZA,
        )
        assert alarm.detail == {
            "stream": "txn",
            "lane_seq": 3,
            "prev_hash": "f" * 64,
            "expected": good[1].hash,
        }
        assert (alarm.changed_by, alarm.opened_at) == ("central", NOW)

    def test_a_break_across_batches(self, store: CentralStore) -> None:
        store.store_batch(PLAZA, txns(chain(5)), NOW)
        other = list(transaction_chain(LANE, 3, first_seq=6, prev_hash="e" * 64))
        assert store.store_batch(PLAZA, txns(other), NOW).chain_breaks == (6,)
        assert [a.subject for a in store.alarms()] == ["txn:6"]

    def test_a_break_found_when_the_predecessor_arrives_later(self, store: CentralStore) -> None:
        records = chain(10)
        assert store.store_batch(PLAZA, txns(records[5:]), NOW).chain_breaks == ()
        impostor = list(transaction_chain(LANE, 5, start=EPOCH + timedelta(days=1)))
        outcome = store.store_batch(PLAZA, txns(impostor), NOW)
        assert outcome.chain_breaks == (6,)
        assert outcome.acked_seq == 10

    def test_the_first_record_must_start_from_genesis(self, store: CentralStore) -> None:
        records = list(transaction_chain(LANE, 2, prev_hash="a" * 64))
        assert records[0].prev_hash != GENESIS_HASH
        assert store.store_batch(PLAZA, txns(records), NOW).chain_breaks == (1,)

    def test_a_sound_chain_in_many_batches_has_no_break(self, store: CentralStore) -> None:
        records = chain(12)
        for start in (8, 0, 4):
            outcome = store.store_batch(PLAZA, txns(records[start : start + 4]), NOW)
            assert outcome.chain_breaks == ()
        assert store.alarms() == []


class TestConcurrentWorkers:
    """Two workers storing interleaved batches of one lane end with the right ack."""

    def test_two_threads_interleaved(self, url: str) -> None:
        records = chain(1200)
        batches = [txns(records[i : i + 30]) for i in range(0, len(records), 30)]
        start = threading.Barrier(2)
        failures: list[BaseException] = []

        def worker(mine: list[TxnBatch]) -> None:
            try:
                with CentralStore.open(url) as store:
                    start.wait()
                    for batch in mine:
                        assert store.store_batch(PLAZA, batch, NOW).chain_breaks == ()
            except BaseException as exc:  # handed to the test thread
                failures.append(exc)

        threads = [
            threading.Thread(target=worker, args=(batches[0::2],)),
            threading.Thread(target=worker, args=(batches[1::2][::-1],)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        with CentralStore.open(url) as store:
            assert store.acked_seq(LANE, "txn") == 1200
            assert count(store, transactions) == 1200
            with store.engine.connect() as connection:
                held_max = connection.execute(select(stream_acks.c.held_max)).scalar_one()
            assert held_max == 1200
            assert store.alarms() == []


def state(online: bool, **fields: object) -> LaneState:
    return LaneState.model_validate(
        {"plaza_id": PLAZA, "lane_id": LANE, "online": online, "at": NOW, **fields}
    )


class TestRegistry:
    """note_state keeps the lane registry; the will marks offline and forgets nothing."""

    def test_online_state_is_taken_whole(self, store: CentralStore) -> None:
        store.note_state(
            state(
                True,
                mode="normal",
                barrier="down",
                software_version="0.1.0",
                config_version=4,
                tariffs={"demo-parking": 2},
                backlog={"txn": 7, "event": 1},
            ),
            NOW,
        )
        row = lane_row(store)
        assert (row["online"], row["mode"], row["barrier"]) == (True, "normal", "down")
        assert (row["software_version"], row["config_version"]) == ("0.1.0", 4)
        assert row["tariffs"] == {"demo-parking": 2}
        assert (row["backlog_txn"], row["backlog_event"]) == (7, 1)
        assert at_utc(row["last_seen"]) == NOW
        assert at_utc(row["online_changed_at"]) == NOW

    def test_the_will_marks_offline_and_keeps_what_was_known(self, store: CentralStore) -> None:
        store.note_state(state(True, mode="normal", tariffs={"t": 1}, backlog={"txn": 3}), NOW)
        store.note_state(state(True, mode="closed"), NOW + timedelta(minutes=1))
        assert at_utc(lane_row(store)["online_changed_at"]) == NOW  # still online
        gone = NOW + timedelta(minutes=5)
        store.note_state(state(False), gone)
        row = lane_row(store)
        assert (row["online"], row["mode"], row["tariffs"]) == (False, "closed", {})
        assert at_utc(row["online_changed_at"]) == gone
        assert at_utc(row["last_seen"]) == NOW + timedelta(minutes=1)
        back = NOW + timedelta(minutes=9)
        store.note_state(state(True, mode="normal", tariffs={"t": 2}), back)
        row = lane_row(store)
        assert (row["online"], row["tariffs"]) == (True, {"t": 2})
        assert at_utc(row["online_changed_at"]) == back

    def test_offline_state_keeps_the_backlog_and_tariffs(self, store: CentralStore) -> None:
        store.note_state(state(True, tariffs={"t": 1}, backlog={"txn": 3, "event": 2}), NOW)
        store.note_state(state(False), NOW + timedelta(minutes=1))
        row = lane_row(store)
        assert (row["tariffs"], row["backlog_txn"], row["backlog_event"]) == ({"t": 1}, 3, 2)


def telemetry(at: datetime, *totals: DayTotal, backlog: int = 0) -> Telemetry:
    return Telemetry(
        plaza_id=PLAZA,
        lane_id=LANE,
        at=at,
        uptime_s=60.0,
        read_rate=0.9,
        backlog=StreamCounts(txn=backlog),
        faults=("camera_dark",),
        versions={"lanewarden": "0.1.0"},
        totals=totals,
    )


class TestTelemetry:
    """The latest telemetry per lane and its day totals are kept; older ones are ignored."""

    def test_latest_kept_and_older_ignored(self, store: CentralStore) -> None:
        later = NOW + timedelta(seconds=10)
        store.note_telemetry(telemetry(NOW, backlog=5), NOW)
        store.note_telemetry(telemetry(later, backlog=2), later)
        store.note_telemetry(telemetry(NOW, backlog=9), later + timedelta(seconds=1))
        with store.engine.connect() as connection:
            [row] = connection.execute(select(lane_telemetry)).mappings().all()
        assert at_utc(row["at"]) == later
        assert (row["backlog_txn"], row["faults"], row["versions"]) == (
            2,
            ["camera_dark"],
            {"lanewarden": "0.1.0"},
        )
        seen = lane_row(store)
        assert (seen["online"], seen["backlog_txn"]) == (True, 2)
        assert at_utc(seen["last_seen"]) == later + timedelta(seconds=1)

    def test_day_totals_upsert_per_day(self, store: CentralStore) -> None:
        today, yesterday = date(2026, 12, 1), date(2026, 11, 30)
        store.note_telemetry(
            telemetry(
                NOW,
                DayTotal(day=yesterday, transactions=40, revenue=8000, currency="USD"),
                DayTotal(day=today, transactions=3, revenue=600, currency="USD"),
            ),
            NOW,
        )
        later = NOW + timedelta(minutes=1)
        store.note_telemetry(
            telemetry(later, DayTotal(day=today, transactions=5, revenue=1100, currency="USD")),
            later,
        )
        with store.engine.connect() as connection:
            rows = connection.execute(
                select(day_totals.c.day, day_totals.c.transactions, day_totals.c.revenue).order_by(
                    day_totals.c.day
                )
            ).all()
        assert [tuple(r) for r in rows] == [(yesterday, 40, 8000), (today, 5, 1100)]


class TestAlarms:
    """Alarms open once per subject and move open → acknowledged → resolved, naming who."""

    def test_lifecycle(self, store: CentralStore) -> None:
        first = store.open_alarm(
            "lane_offline", plaza_id=PLAZA, lane_id=LANE, subject="lane", detail={}, at=NOW
        )
        again = store.open_alarm(
            "lane_offline", plaza_id=PLAZA, lane_id=LANE, subject="lane", detail={}, at=NOW
        )
        assert again == first
        later = NOW + timedelta(minutes=3)
        acked = store.change_alarm(first, "acknowledged", "supervisor-7", later)
        assert (acked.state, acked.changed_by, acked.changed_at) == (
            "acknowledged",
            "supervisor-7",
            later,
        )
        store.change_alarm(first, "resolved", "central", later)
        with pytest.raises(AlarmError, match="cannot go from resolved to acknowledged"):
            store.change_alarm(first, "acknowledged", "supervisor-7", later)
        reopened = store.open_alarm(
            "lane_offline", plaza_id=PLAZA, lane_id=LANE, subject="lane", detail={}, at=later
        )
        assert reopened != first
        assert [a.state for a in store.alarms()] == ["resolved", "open"]

    def test_unknown_alarm_and_bad_state_are_named(self, store: CentralStore) -> None:
        with pytest.raises(AlarmError, match="alarm 999: no such alarm"):
            store.change_alarm(999, "resolved", "x", NOW)
        opened = store.open_alarm(
            "gap_unfilled", plaza_id=PLAZA, lane_id=LANE, subject="txn:4", detail={}, at=NOW
        )
        with pytest.raises(AlarmError, match="state: 'closed' is not one of"):
            store.change_alarm(opened, "closed", "x", NOW)  # type: ignore[arg-type]
        with pytest.raises(AlarmError, match="by: who changes the alarm must be named"):
            store.change_alarm(opened, "resolved", "", NOW)


class TestBinaryCopy:
    """Every record column has a binary COPY type; a column without one is named."""

    def test_record_tables_map_whole(self) -> None:
        types = {pg_binary_type(column) for t in (transactions, lane_events) for column in t.c}
        assert types == {"text", "int8", "int4", "float8", "uuid", "timestamptz"}

    def test_a_column_without_a_binary_type_is_named(self) -> None:
        table = Table("t", MetaData(), Column("doc", JSON))
        with pytest.raises(TypeError, match=r"t\.doc: no binary COPY type for JSON"):
            pg_binary_type(table.c.doc)


class TestCommandResults:
    """Lanes' answers to commands are kept once per lane and command id, on both backends."""

    def test_kept_once_with_who_what_when(self, store: CentralStore) -> None:
        refused = CommandResult(command_id="c-9", ok=False, error="mode: unknown")
        assert store.note_result(PLAZA, LANE, refused, NOW)
        assert not store.note_result(PLAZA, LANE, refused, NOW + timedelta(seconds=1))
        assert store.note_result(PLAZA, "lane-2", refused, NOW)  # another lane's answer
        (kept,) = store.command_results(LANE)
        assert (kept.lane_id, kept.command_id, kept.ok, kept.error) == (
            LANE,
            "c-9",
            False,
            "mode: unknown",
        )
        assert kept.received_at == NOW
        assert len(store.command_results()) == 2

    def test_a_naive_time_is_refused(self, store: CentralStore) -> None:
        with pytest.raises(ValueError, match="received_at"):
            store.note_result(
                PLAZA, LANE, CommandResult(command_id="c", ok=True), NOW.replace(tzinfo=None)
            )
