"""The shell's vehicle lookup: entries from any source, the unmatched rule, credits, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from test_daemon_support import REPO

from edge.config.lane import load_lane
from edge.daemon.lookup import Credit, Credits, FoundEntry, LocalEntries, VehicleLookup
from edge.fees.engine import quote
from edge.fees.files import load_tariff
from edge.fees.passage import Passage
from edge.lane.events import LookupFailed, VehicleChecked
from edge.lane.records import Listing
from edge.records import uuid7
from edge.store import Store

AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
PLATE = "皖A12345"


class RemoteEntries:
    """An entry source standing in for the remote lookup that sync will provide."""

    def __init__(self, entries: dict[str, FoundEntry]) -> None:
        self.entries = entries
        self.asked: list[str] = []

    def find(self, plate: str) -> FoundEntry | None:
        self.asked.append(plate)
        return self.entries.get(plate)


def highway_lookup(tmp_path: Path, entries: RemoteEntries) -> VehicleLookup:
    files = load_lane(REPO / "config/lanes/south-exit.toml")
    tariff = load_tariff(REPO / "config/tariffs/g60-highway.toml")
    store = Store.open(tmp_path / "south.db")
    return VehicleLookup(files, store, tariff, entries, Credits())


def checked(answer: VehicleChecked | LookupFailed) -> VehicleChecked:
    assert isinstance(answer, VehicleChecked), answer
    return answer


class TestHighwayExit:
    """A highway exit prices from the entry plaza another source found."""

    def test_entry_at_another_plaza_prices_the_distance(self, tmp_path: Path) -> None:
        entry = FoundEntry(uuid7(AT), AT - timedelta(hours=1), "north", "north-entry", 1)
        lookup = highway_lookup(tmp_path, RemoteEntries({PLATE: entry}))
        try:
            answer = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        tariff = load_tariff(REPO / "config/tariffs/g60-highway.toml")
        expected = quote(
            tariff, Passage(exit=AT, entry=entry.at, entry_plaza="north", exit_plaza="south")
        )
        assert answer.quote is not None
        assert answer.quote.total == expected.total
        assert answer.open_entry is not None
        assert (answer.open_entry.plaza_id, answer.open_entry.txn_id) == ("north", entry.txn_id)

    def test_no_entry_is_the_unmatched_fare(self, tmp_path: Path) -> None:
        remote = RemoteEntries({})
        lookup = highway_lookup(tmp_path, remote)
        try:
            answer = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        tariff = load_tariff(REPO / "config/tariffs/g60-highway.toml")
        expected = quote(tariff, Passage(exit=AT, exit_plaza="south"))
        assert answer.open_entry is None
        assert answer.quote is not None
        assert answer.quote.total == expected.total
        assert remote.asked == [PLATE]


class TestLocalEntries:
    """Lanes sharing one database find each other's entries."""

    def test_finds_the_entry_lanes_open_entry(self, tmp_path: Path) -> None:
        from test_daemon_support import seed_entry

        record = seed_entry(tmp_path / "site.db")
        with Store.open(tmp_path / "site.db") as store:
            found = LocalEntries(store, "riverside").find(PLATE)
        assert found is not None
        assert (found.txn_id, found.lane_id, found.plaza_id) == (
            record.id,
            "riverside-entry",
            "riverside",
        )


def parking_exit_lookup(tmp_path: Path) -> VehicleLookup:
    files = load_lane(REPO / "config/lanes/riverside-exit.toml")
    tariff = load_tariff(REPO / "config/tariffs/riverside-parking.toml")
    store = Store.open(tmp_path / "riverside.db")
    return VehicleLookup(files, store, tariff, LocalEntries(store, "riverside"), Credits())


class TestAccountDiscount:
    """Prepaid account holders get the tariff's account discount when the account pays."""

    def full_and_discounted(self) -> tuple[int, int]:
        tariff = load_tariff(REPO / "config/tariffs/riverside-parking.toml")
        passage = Passage(exit=AT)  # no entry: the unmatched-exit (lost ticket) fee
        full = quote(tariff, passage).total
        discounted = quote(tariff, Passage(exit=AT, payment_method="account")).total
        assert discounted < full  # version 2 gives account holders 5 % off
        return full, discounted

    def quoted(self, tmp_path: Path, balance: int) -> int:
        lookup = parking_exit_lookup(tmp_path)
        try:
            lookup.store.accounts.put("acc", "CNY", balance, [PLATE])
            answer = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert answer.listing is Listing.PREPAID
        assert answer.quote is not None
        return answer.quote.total

    def test_balance_covering_the_fee_gets_the_discount(self, tmp_path: Path) -> None:
        full, discounted = self.full_and_discounted()
        assert self.quoted(tmp_path, balance=full) == discounted

    def test_balance_short_of_it_pays_in_full(self, tmp_path: Path) -> None:
        full, discounted = self.full_and_discounted()
        assert self.quoted(tmp_path, balance=discounted - 1) == full


class TestCreditsAndFailures:
    """A payment made before a restart is deducted once; a store failure is a failed lookup."""

    def test_credit_is_deducted_once(self, tmp_path: Path) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        paid = UUID(int=7)
        lookup.credits.add(PLATE, Credit(paid, 100_000, AT + timedelta(minutes=5)))
        try:
            first = checked(lookup.check(uuid7(AT), PLATE, AT))
            second = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert first.quote is not None
        assert second.quote is not None
        assert first.quote.total == 0
        assert str(paid) in first.quote.items[-1].label
        assert second.quote.total > 0

    def test_credit_short_of_the_fee_leaves_the_rest_due(self, tmp_path: Path) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        lookup.credits.add(PLATE, Credit(UUID(int=7), 100, AT + timedelta(minutes=5)))
        try:
            answer = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert answer.quote is not None
        *due, credit = answer.quote.items
        assert credit.amount == -100
        assert answer.quote.total == sum(item.amount for item in due) - 100 > 0

    def test_a_credit_is_held_by_its_passage_and_given_back_when_voided(self) -> None:
        credits = Credits()
        paid = Credit(UUID(int=7), 500, AT + timedelta(minutes=5))
        credits.add(PLATE, paid)
        first, second, third = uuid7(AT), uuid7(AT), uuid7(AT)
        assert credits.take(PLATE, AT, first) == paid
        assert credits.take(PLATE, AT, second) is None  # held by the first passage
        assert credits.take(PLATE, AT, first) == paid  # its lookup asked again
        credits.give_back(first)  # the vehicle backed away
        assert credits.take(PLATE, AT, second) == paid
        credits.spend(second)  # the vehicle passed
        credits.give_back(second)
        assert credits.take(PLATE, AT, third) is None

    def test_a_passage_read_again_as_another_plate_gives_the_credit_back(self) -> None:
        credits = Credits()
        paid = Credit(UUID(int=7), 500, AT + timedelta(minutes=5))
        credits.add(PLATE, paid)
        first = uuid7(AT)
        assert credits.take(PLATE, AT, first) == paid
        assert credits.take("皖B99999", AT, first) is None
        assert credits.take(PLATE, AT, uuid7(AT)) == paid

    def test_blacklist_wins_over_an_account(self, tmp_path: Path) -> None:
        from edge.store import ListEntry

        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            lookup.store.accounts.put("acc", "CNY", 100, [PLATE])
            lookup.store.lists.replace("blacklist", 1, [ListEntry(PLATE)])
            answer = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert answer.listing is Listing.BLACKLIST

    def test_closed_store_is_a_failed_lookup_naming_the_error(self, tmp_path: Path) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        lookup.store.close()
        txn_id = uuid7(AT)
        answer = lookup.check(txn_id, PLATE, AT)
        assert isinstance(answer, LookupFailed)
        assert answer.txn_id == txn_id
        assert answer.reason == "ProgrammingError: Cannot operate on a closed database."
