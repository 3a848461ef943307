"""The shell's vehicle lookup: entries from any source, the unmatched rule, credits, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from contracts.mqtt.payloads import StoredEntry
from contracts.records.sealed import TransactionRecord
from contracts.records.transaction import FeeItem, Transaction
from contracts.uuid7 import uuid7
from edge.config.lane import load_lane
from edge.daemon.config_push import PricingInForce, initial_pricing
from edge.daemon.lookup import CreditBook, FoundEntry, LocalEntries, VehicleLookup
from edge.daemon.testing import REPO, terminal_exit
from edge.fees.engine import quote
from edge.fees.files import load_tariff
from edge.fees.passage import FeeLine, FeeQuery
from edge.lane.credits import CREDIT_LABEL
from edge.lane.events import LookupFailed, VehicleChecked
from edge.lane.records import CentralLookup, Listing
from edge.store import Store
from edge.sync.lookups import RemoteAnswer

AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
PLATE = "皖A12345"
WINDOW = timedelta(minutes=10)


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
    store = Store.open(tmp_path / "south.db")
    tariffs = PricingInForce(initial_pricing(files, store))  # the lane file's: g60-highway
    return VehicleLookup(files, store, tariffs, entries, CreditBook(WINDOW))


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
            tariff, FeeQuery(exit=AT, entry=entry.at, entry_plaza="north", exit_plaza="south")
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
        expected = quote(tariff, FeeQuery(exit=AT, exit_plaza="south"))
        assert answer.open_entry is None
        assert answer.quote is not None
        assert answer.quote.total == expected.total
        assert remote.asked == [PLATE]


class TestCentralAnswers:
    """What central said goes into the answer: its entry prices the exit, silence does not."""

    def test_central_s_entry(self, tmp_path: Path) -> None:
        stored = StoredEntry(
            txn_id=uuid7(AT),
            plaza_id="north",
            lane_id="north-entry",
            entry_time=AT - timedelta(hours=1),
            vehicle_class=2,
        )
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            answer = checked(lookup.check(uuid7(AT), PLATE, AT, RemoteAnswer(True, stored)))
        finally:
            lookup.store.close()
        assert answer.central is CentralLookup.FOUND
        assert answer.open_entry is not None
        assert (answer.open_entry.txn_id, answer.open_entry.plaza_id) == (stored.txn_id, "north")
        assert answer.vehicle_class == 2
        assert lookup.entries.asked == []  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("said", "expected"),
        [
            (RemoteAnswer(True, None), CentralLookup.NONE),
            (RemoteAnswer(False, why="timeout"), CentralLookup.UNANSWERED),
        ],
    )
    def test_no_entry_from_central(
        self, tmp_path: Path, said: RemoteAnswer, expected: CentralLookup
    ) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            answer = checked(lookup.check(uuid7(AT), PLATE, AT, said))
        finally:
            lookup.store.close()
        tariff = load_tariff(REPO / "config/tariffs/g60-highway.toml")
        assert answer.central is expected
        assert answer.open_entry is None
        assert answer.quote is not None
        assert answer.quote.total == quote(tariff, FeeQuery(exit=AT, exit_plaza="south")).total

    def test_only_a_highway_exit_without_its_entry_asks(self, tmp_path: Path) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            assert not lookup.asks_central(PLATE)  # no central attached
            lookup.central = object()  # type: ignore[assignment]
            assert lookup.asks_central(PLATE)
            entry = FoundEntry(uuid7(AT), AT, "south", "south-entry", 1)
            lookup.entries = RemoteEntries({PLATE: entry})
            assert not lookup.asks_central(PLATE)
        finally:
            lookup.store.close()


class TestLocalEntries:
    """Lanes sharing one database find each other's entries."""

    def test_finds_the_entry_lanes_open_entry(self, tmp_path: Path) -> None:
        from edge.daemon.testing import seed_entry

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
    store = Store.open(tmp_path / "riverside.db")
    tariffs = PricingInForce(initial_pricing(files, store))  # the lane file's: riverside-parking
    return VehicleLookup(
        files, store, tariffs, LocalEntries(store, "riverside"), CreditBook(WINDOW)
    )


class TestAccountDiscount:
    """Prepaid account holders get the tariff's account discount when the account pays."""

    def full_and_discounted(self) -> tuple[int, int]:
        tariff = load_tariff(REPO / "config/tariffs/riverside-parking.toml")
        passage = FeeQuery(exit=AT)  # no entry: the unmatched-exit (lost ticket) fee
        full = quote(tariff, passage).total
        discounted = quote(tariff, FeeQuery(exit=AT, payment_method="account")).total
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
        try:
            paid = voided_paid(lookup.store, 100_000)
            lookup.credits.observe(paid)
            first_id = uuid7(AT)
            first = checked(lookup.check(first_id, PLATE, AT))
            assert first.quote is not None
            again = checked(lookup.check(first_id, PLATE, AT))  # its lookup asked again
            lookup.credits.observe(passage_with(lookup.store, first_id, first.quote.items))
            second = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert first.quote.total == 0
        assert again.quote == first.quote
        assert str(paid.id) in first.quote.items[-1].label
        assert second.quote is not None
        assert second.quote.total > 0

    def test_credit_short_of_the_fee_leaves_the_rest_due(self, tmp_path: Path) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            lookup.credits.observe(voided_paid(lookup.store, 100))
            answer = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert answer.quote is not None
        *due, credit = answer.quote.items
        assert credit.amount == -100
        assert answer.quote.total == sum(item.amount for item in due) - 100 > 0

    @pytest.mark.parametrize(("status", "given_back"), [("voided", True), ("passed", False)])
    def test_a_passage_that_did_not_happen_gives_the_credit_back(
        self, tmp_path: Path, status: str, given_back: bool
    ) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            lookup.credits.observe(voided_paid(lookup.store, 100_000))
            first_id = uuid7(AT)
            first = checked(lookup.check(first_id, PLATE, AT))
            assert first.quote is not None
            lookup.credits.observe(passage_with(lookup.store, first_id, first.quote.items))
            lookup.credits.observe(
                passage_with(lookup.store, first_id, first.quote.items, status=status)
            )
            later = checked(lookup.check(uuid7(AT), PLATE, AT))
        finally:
            lookup.store.close()
        assert later.quote is not None
        assert (later.quote.total == 0) is given_back

    def test_another_plate_and_an_expired_credit_get_nothing(self, tmp_path: Path) -> None:
        lookup = highway_lookup(tmp_path, RemoteEntries({}))
        try:
            lookup.credits.observe(voided_paid(lookup.store, 100_000))
            other = checked(lookup.check(uuid7(AT), "皖B99999", AT))
            late = AT + WINDOW + timedelta(seconds=1)
            expired = checked(lookup.check(uuid7(late), PLATE, late))
        finally:
            lookup.store.close()
        for answer in (other, expired):
            assert answer.quote is not None
            assert not any(CREDIT_LABEL in item.label for item in answer.quote.items)

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


def voided_paid(store: Store, amount: int) -> TransactionRecord:
    """A passage of PLATE that was paid and voided (a restart could not resume it) at AT."""
    return store.append_transaction(
        terminal_exit(
            "south-exit",
            "voided",
            AT,
            amount,
            plate=PLATE,
            label="toll",
            payment_status="approved",
            flags=("interrupted", "refund_review"),
        )
    )


def passage_with(
    store: Store, txn_id: UUID, items: tuple[FeeLine, ...], status: str = "authorised"
) -> TransactionRecord:
    """A version of the passage ``txn_id`` whose fee has ``items`` (a credit among them)."""
    fee_items = tuple(FeeItem(label=item.label, amount=item.amount) for item in items)
    return store.append_transaction(
        Transaction.build(
            id=txn_id,
            lane_id="south-exit",
            kind="exit",
            status=status,
            authorisation="rule",
            recorded_at=AT,
            plate_text=PLATE,
            exit_time=AT,
            currency="CNY",
            fee_items=fee_items,
            fee_total=sum(item.amount for item in fee_items),
        )
    )


class TestAssumedPassage:
    """A vehicle a restart took for gone comes back: its entry and its payment come with it."""

    ENTERED = AT - timedelta(hours=2)

    def after_restart(
        self, tmp_path: Path, *, entry_open: bool = False
    ) -> tuple[VehicleLookup, UUID]:
        """A riverside exit whose last run assumed PLATE passed a minute ago, paid, entry closed."""
        lookup = parking_exit_lookup(tmp_path)
        store = lookup.store
        with store.batch():
            entry = store.append_transaction(
                Transaction.build(
                    lane_id="riverside-entry",
                    kind="entry",
                    status="passed",
                    authorisation="rule",
                    recorded_at=self.ENTERED,
                    plate_text=PLATE,
                    vehicle_class=1,
                    entry_time=self.ENTERED,
                )
            )
            if entry_open:  # it drove out after all, and came in again
                store.entries.open(entry)
        paid = self.fee(AT - timedelta(minutes=1))
        assumed = store.append_transaction(
            Transaction.build(
                lane_id="riverside-exit",
                kind="exit",
                status="passed",
                authorisation="paid",
                recorded_at=AT - timedelta(minutes=1),
                plate_text=PLATE,
                vehicle_class=1,
                entry_time=self.ENTERED,
                exit_time=AT - timedelta(minutes=1, seconds=20),
                entry_plaza="riverside",
                entry_txn_id=entry.id,
                currency="CNY",
                fee_items=(FeeItem(label="parking", amount=paid),),
                fee_total=paid,
                payment_method="terminal",
                payment_status="approved",
                flags=("interrupted", "passage_assumed"),
            )
        )
        lookup.credits.observe(assumed)
        return lookup, entry.id

    def fee(self, at: datetime) -> int:
        tariff = load_tariff(REPO / "config/tariffs/riverside-parking.toml")
        return quote(tariff, FeeQuery(exit=at, entry=self.ENTERED)).total

    def ask(self, lookup: VehicleLookup, plate: str = PLATE, at: datetime = AT) -> VehicleChecked:
        try:
            return checked(lookup.check(uuid7(at), plate, at))
        finally:
            lookup.store.close()

    def test_the_return_is_priced_from_its_entry_less_what_it_paid(self, tmp_path: Path) -> None:
        lookup, entry_id = self.after_restart(tmp_path)
        answer = self.ask(lookup)
        assert answer.open_entry is not None
        assert (answer.open_entry.txn_id, answer.open_entry.at) == (entry_id, self.ENTERED)
        assert answer.open_entry.lane_id == "riverside-entry"
        assert answer.quote is not None
        assert answer.quote.total == self.fee(AT) - self.fee(AT - timedelta(minutes=1))
        assert answer.correction is not None
        assert answer.correction.same_plate
        assert str(answer.correction.txn_id) in answer.quote.items[-1].label

    def test_a_confusable_plate_corrects_it_for_review(self, tmp_path: Path) -> None:
        lookup, _ = self.after_restart(tmp_path)
        answer = self.ask(lookup, "皖A1234S")
        assert answer.correction is not None
        assert not answer.correction.same_plate
        assert answer.correction.plate == PLATE

    def test_an_open_entry_of_its_own_leaves_it_standing(self, tmp_path: Path) -> None:
        lookup, _ = self.after_restart(tmp_path, entry_open=True)
        answer = self.ask(lookup)
        assert answer.correction is None
        assert answer.open_entry is not None
        assert answer.quote is not None
        assert not any(CREDIT_LABEL in item.label for item in answer.quote.items)

    def test_another_plate_or_after_the_window_is_an_unmatched_exit(self, tmp_path: Path) -> None:
        lookup, _ = self.after_restart(tmp_path)
        other = checked(lookup.check(uuid7(AT), "皖B99999", AT))
        late = AT + WINDOW
        expired = self.ask(lookup, at=late)
        for answer in (other, expired):
            assert answer.correction is None
            assert answer.open_entry is None

    def test_taken_by_a_passage_that_passed_it_corrects_no_more(self, tmp_path: Path) -> None:
        lookup, _ = self.after_restart(tmp_path)
        first_id = uuid7(AT)
        first = checked(lookup.check(first_id, PLATE, AT))
        assert first.quote is not None
        lookup.credits.observe(
            passage_with(lookup.store, first_id, first.quote.items, status="passed")
        )
        later = AT + timedelta(minutes=2)
        answer = self.ask(lookup, at=later)
        assert answer.correction is None
        assert answer.open_entry is None
