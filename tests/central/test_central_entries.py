"""Central's answer to an entry lookup: the open-entry rule of contracts.records.entries, in SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from central_db import BACKENDS, central_db_url

from central.storage import CentralStore, migrate
from central.storage.engine import make_engine, writer
from central.storage.rows import transaction_row
from central.storage.schema import transactions
from contracts.records.entries import closes_entry, open_entry, opens_entry
from contracts.records.transaction import Transaction
from contracts.testing import SealedLane as Lane
from contracts.uuid7 import uuid7

PLATE = "皖A12345"
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
NORTH, SOUTH, EAST = ("north", "north-entry"), ("south", "south-exit"), ("east", "east-entry")


def entry(plate: str, at: datetime, status: str = "passed", lane: str = NORTH[1]) -> Transaction:
    return Transaction.build(
        id=uuid7(at),
        lane_id=lane,
        kind="entry",
        status=status,
        authorisation="rule" if status == "passed" else None,
        recorded_at=at,
        plate_text=plate,
        vehicle_class=2,
        entry_time=at if status == "passed" else None,
    )


def leave(
    plate: str, at: datetime, *, names: Transaction | None = None, status: str = "passed"
) -> Transaction:
    """An exit at the south plaza; ``names`` the entry it was matched to."""
    return Transaction.build(
        id=uuid7(at),
        lane_id=SOUTH[1],
        kind="exit",
        status=status,
        recorded_at=at,
        plate_text=plate,
        entry_txn_id=names.id if names is not None else None,
        exit_time=at if status == "passed" else None,
    )


Scenario = Callable[[], list[Transaction]]


def one_entry() -> list[Transaction]:
    return [entry(PLATE, T0)]


def voided_entry() -> list[Transaction]:
    return [entry(PLATE, T0, status="voided")]


def exit_names_it() -> list[Transaction]:
    first = entry(PLATE, T0)
    return [first, leave("皖A1234S", T0 + timedelta(hours=1), names=first)]  # a confusable read


def exit_of_the_plate_after() -> list[Transaction]:
    return [entry(PLATE, T0), leave(PLATE, T0 + timedelta(hours=1))]


def exit_of_the_plate_before() -> list[Transaction]:
    """The exit of an earlier trip closes nothing of this one."""
    return [leave(PLATE, T0 - timedelta(hours=1)), entry(PLATE, T0)]


def exit_still_paying() -> list[Transaction]:
    return [entry(PLATE, T0), leave(PLATE, T0 + timedelta(hours=1), status="pending_payment")]


def newer_entry_open() -> list[Transaction]:
    first = entry(PLATE, T0)
    return [
        first,
        leave(PLATE, T0 + timedelta(hours=1), names=first),
        entry(PLATE, T0 + timedelta(hours=2)),
    ]


def separators_and_versions() -> list[Transaction]:
    """Entry versions (arrived, then passed) under a plate written with a separator."""
    arrived = entry("皖A·12345", T0, status="arrived")
    passed = Transaction.build(
        **{
            **arrived.model_dump(),
            "status": "passed",
            "authorisation": "rule",
            "entry_time": T0,
            "recorded_at": T0 + timedelta(seconds=2),
        }
    )
    return [arrived, passed, entry("皖B99999", T0 + timedelta(minutes=5))]


def other_entry_lane_later() -> list[Transaction]:
    """The vehicle came in again at another plaza: that entry is the open one."""
    return [entry(PLATE, T0), entry(PLATE, T0 + timedelta(hours=3), lane=EAST[1])]


SCENARIOS: dict[str, tuple[Scenario, bool]] = {
    "one entry": (one_entry, True),
    "voided entry": (voided_entry, False),
    "exit names it": (exit_names_it, False),
    "exit of the plate after": (exit_of_the_plate_after, False),
    "exit of the plate before": (exit_of_the_plate_before, True),
    "exit still paying": (exit_still_paying, True),
    "newer entry open": (newer_entry_open, True),
    "separators and versions": (separators_and_versions, True),
    "other entry lane later": (other_entry_lane_later, True),
}

PLAZA_OF = {NORTH[1]: NORTH[0], SOUTH[1]: SOUTH[0], EAST[1]: EAST[0]}


def stored(store: CentralStore, records: list[Transaction]) -> None:
    lanes: dict[str, Lane] = {}
    for record in records:
        lane = lanes.setdefault(record.lane_id, Lane(PLAZA_OF[record.lane_id], record.lane_id))
        store.store_batch(lane.plaza_id, lane.txns(record), T0)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with central_db_url(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def store(url: str) -> Iterator[CentralStore]:
    with CentralStore.open(url) as opened:
        yield opened


class TestRule:
    """The rule itself (contracts.records.entries), on records."""

    def test_only_a_passed_entry_with_a_plate_opens(self) -> None:
        assert opens_entry(entry(PLATE, T0))
        assert not opens_entry(entry(PLATE, T0, status="voided"))
        assert not opens_entry(leave(PLATE, T0))

    def test_an_exit_closes_by_name_or_by_plate_after_the_entry(self) -> None:
        first = entry(PLATE, T0)
        assert closes_entry(leave("OTHER1", T0 + timedelta(hours=1), names=first), first)
        assert closes_entry(leave("皖A-12345", T0 + timedelta(hours=1)), first)
        assert not closes_entry(leave(PLATE, T0 - timedelta(minutes=1)), first)
        assert not closes_entry(leave("皖A54321", T0 + timedelta(hours=1)), first)
        assert not closes_entry(
            leave(PLATE, T0 + timedelta(hours=1), status="pending_payment"), first
        )


class TestQuery:
    """Central's query gives what the rule gives, on SQLite and PostgreSQL."""

    @pytest.mark.parametrize("name", list(SCENARIOS))
    def test_the_query_follows_the_rule(self, store: CentralStore, name: str) -> None:
        scenario, is_open = SCENARIOS[name]
        records = scenario()
        stored(store, records)
        expected = open_entry(PLATE, records)
        assert (expected is not None) == is_open
        found = store.open_entry(PLATE)
        if expected is None:
            assert found is None
            return
        assert found is not None
        assert found.txn_id == expected.id
        assert found.entry_time == expected.entry_time
        assert (found.plaza_id, found.lane_id) == (PLAZA_OF[expected.lane_id], expected.lane_id)
        assert found.vehicle_class == expected.vehicle_class

    def test_a_plate_never_seen_has_none(self, store: CentralStore) -> None:
        stored(store, one_entry())
        assert store.open_entry("皖Z00000") is None

    def test_the_query_reads_the_lookup_indexes(self, store: CentralStore) -> None:
        """Both reads are index reads (plate_key, entry_txn_id), not scans of the table."""
        stored(store, exit_of_the_plate_after())
        engine = store.engine
        if engine.dialect.name != "sqlite":
            pytest.skip("the plan is checked on SQLite; PostgreSQL plans by its statistics")
        with engine.connect() as connection:
            plan = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT lane_seq FROM transactions WHERE kind = 'exit' "
                "AND status = 'passed' AND (entry_txn_id = ? OR (plate_key = ? AND "
                "coalesce(exit_time, recorded_at) >= ?))",
                ("00000000000000000000000000000000", PLATE, "2026-12-07 08:00:00"),
            ).all()
        text = " ".join(str(row[-1]) for row in plan)
        assert "ix_transactions_entry_txn_id" in text
        assert "ix_transactions_plate_key_kind_status" in text


class TestMigration:
    """Rows stored before migration 0006 get their plate key and matched entry."""

    def test_rows_of_revision_0005_are_backfilled(self, url: str) -> None:
        first, other = entry(PLATE, T0), entry("皖C·11111", T0)
        closing = leave("X1", T0 + timedelta(hours=1), names=first)  # closes by name alone
        old_columns = [c for c in transactions.c if c.name not in ("plate_key", "entry_txn_id")]
        engine = make_engine(url)
        try:
            with writer(engine).begin() as connection:
                command.upgrade(migrate.config(connection), "0005")
            with engine.begin() as connection:
                for (plaza, lane_id), records in ((NORTH, (first, other)), (SOUTH, (closing,))):
                    for record in Lane(plaza, lane_id).txns(*records).records:
                        row = transaction_row(record, plaza, T0)
                        values = {c.name: row[c.name] for c in old_columns}
                        connection.execute(transactions.insert().values(**values))
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        with CentralStore.open(url) as store:
            assert store.open_entry(PLATE) is None
            found = store.open_entry("皖C11111")
            assert found is not None
            assert found.txn_id == other.id
