"""The lane's local state: plate lists, prepaid accounts, tariff versions, open entries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from contracts.records.transaction import Transaction
from edge.store import (
    EntryAlreadyOpenError,
    IdempotencyConflictError,
    InsufficientFundsError,
    ListEntry,
    StaleListVersionError,
    Store,
    TariffConflictError,
    TariffVersion,
    UnknownAccountError,
    plate_key,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "site.db") as opened:
        yield opened


class TestPlateKey:
    """Lists and open entries find a plate whatever separators the reader used."""

    @pytest.mark.parametrize("text", ["京A·12345", "京a 12345", "京A-12345", "京A12345"])
    def test_separators_and_case_do_not_matter(self, text: str) -> None:
        assert plate_key(text) == "京A12345"

    def test_plate_of_separators_only_is_refused(self) -> None:
        with pytest.raises(ValueError, match="plate: ' - ' has no characters"):
            plate_key(" - ")


class TestLists:
    """Lists are replaced whole, by version, and looked up by plate and time."""

    def test_lookup_respects_validity(self, store: Store) -> None:
        store.lists.replace(
            "permit",
            1,
            [ListEntry("AB 123", valid_from=T0, valid_until=T0 + timedelta(days=30))],
        )
        store.lists.replace("blacklist", 4, [ListEntry("AB-123", note="stolen")])
        assert store.lists.lookup("ab123", T0) == {"permit", "blacklist"}
        assert store.lists.lookup("AB123", T0 - timedelta(seconds=1)) == {"blacklist"}
        assert store.lists.lookup("AB123", T0 + timedelta(days=30)) == {"blacklist"}
        assert store.lists.lookup("ZZ999", T0) == frozenset()

    def test_new_version_replaces_the_whole_list(self, store: Store) -> None:
        store.lists.replace("whitelist", 1, [ListEntry("A1"), ListEntry("B2")])
        assert store.lists.replace("whitelist", 2, [ListEntry("C3")]) is True
        assert [e.plate for e in store.lists.entries("whitelist")] == ["C3"]
        assert store.lists.version("whitelist") == 2

    def test_same_version_again_is_a_no_op(self, store: Store) -> None:
        store.lists.replace("whitelist", 3, [ListEntry("A1")])
        assert store.lists.replace("whitelist", 3, [ListEntry("A1")]) is False

    def test_older_version_is_refused(self, store: Store) -> None:
        store.lists.replace("whitelist", 3, [ListEntry("A1")])
        with pytest.raises(StaleListVersionError, match="whitelist: version 2 is older than"):
            store.lists.replace("whitelist", 2, [])
        assert [e.plate for e in store.lists.entries("whitelist")] == ["A1"]

    def test_duplicate_plate_is_named(self, store: Store) -> None:
        with pytest.raises(ValueError, match="permit: plate 'A-1' is listed twice"):
            store.lists.replace("permit", 1, [ListEntry("A1"), ListEntry("A-1")])

    def test_unknown_list_is_named(self, store: Store) -> None:
        with pytest.raises(ValueError, match="list: unknown list 'greylist'"):
            store.lists.replace("greylist", 1, [])  # type: ignore[arg-type]

    def test_naive_validity_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError, match="permit A1 valid_from: must be timezone-aware"):
            store.lists.replace("permit", 1, [ListEntry("A1", valid_from=datetime(2026, 1, 1))])


class TestPrepaid:
    """Debits move money once per idempotency key and never below zero."""

    def test_debit_once_per_key(self, store: Store) -> None:
        store.accounts.put("acc-1", "CNY", 5000, ["京A12345"])
        first = store.accounts.debit("acc-1", 1200, "txn-1:0", T0)
        again = store.accounts.debit("acc-1", 1200, "txn-1:0", T0 + timedelta(seconds=5))
        assert (first.balance_after, first.replayed) == (3800, False)
        assert (again.balance_after, again.replayed, again.at) == (3800, True, T0)
        account = store.accounts.get("acc-1")
        assert account is not None
        assert account.balance == 3800

    def test_posting_is_found_by_its_key_without_moving_money(self, store: Store) -> None:
        store.accounts.put("acc-1", "CNY", 5000, ["京A12345"])
        assert store.accounts.posting("txn-1:0") is None
        store.accounts.debit("acc-1", 1200, "txn-1:0", T0)
        found = store.accounts.posting("txn-1:0")
        assert found is not None
        assert (found.account_id, found.amount, found.balance_after, found.at) == (
            "acc-1",
            -1200,
            3800,
            T0,
        )
        account = store.accounts.get("acc-1")
        assert account is not None
        assert account.balance == 3800

    def test_key_reused_for_another_amount_is_refused(self, store: Store) -> None:
        store.accounts.put("acc-1", "CNY", 5000, [])
        store.accounts.debit("acc-1", 1200, "txn-1:0", T0)
        with pytest.raises(IdempotencyConflictError, match="key 'txn-1:0' already posted -1200"):
            store.accounts.debit("acc-1", 1300, "txn-1:0", T0)

    def test_insufficient_funds_posts_nothing(self, store: Store) -> None:
        store.accounts.put("acc-1", "CNY", 1000, [])
        with pytest.raises(InsufficientFundsError, match="balance 1000 is less than debit 1200"):
            store.accounts.debit("acc-1", 1200, "txn-2:0", T0)
        store.accounts.credit("acc-1", 500, "topup-1", T0)
        assert store.accounts.debit("acc-1", 1200, "txn-2:0", T0).balance_after == 300

    def test_unknown_account(self, store: Store) -> None:
        with pytest.raises(UnknownAccountError, match="account 'nobody' does not exist"):
            store.accounts.debit("nobody", 1, "k", T0)

    def test_amount_must_be_positive(self, store: Store) -> None:
        with pytest.raises(ValueError, match="amount: a debit must be positive, got 0"):
            store.accounts.debit("acc-1", 0, "k", T0)

    def test_account_found_by_plate(self, store: Store) -> None:
        store.accounts.put("acc-1", "CNY", 100, ["京A·12345", "京B 1"])
        account = store.accounts.for_plate("京A12345")
        assert account is not None
        assert (account.account_id, account.plates) == ("acc-1", ("京A12345", "京B1"))
        assert store.accounts.for_plate("京C0") is None


class TestTariffs:
    """The version in force is the latest effective one; versions never change."""

    def test_version_in_force(self, store: Store) -> None:
        v1 = TariffVersion("riverside-parking", 1, T0, "v1")
        v2 = TariffVersion("riverside-parking", 2, T0 + timedelta(days=10), "v2")
        store.tariffs.put(v1)
        store.tariffs.put(v2)
        assert store.tariffs.in_force("riverside-parking", T0 - timedelta(seconds=1)) is None
        assert store.tariffs.in_force("riverside-parking", T0 + timedelta(days=9)) == v1
        assert store.tariffs.in_force("riverside-parking", T0 + timedelta(days=10)) == v2
        assert store.tariffs.versions("riverside-parking") == [v1, v2]

    def test_same_version_again(self, store: Store) -> None:
        version = TariffVersion("bridge-flat", 1, T0, "doc")
        assert store.tariffs.put(version) is True
        assert store.tariffs.put(version) is False
        with pytest.raises(TariffConflictError, match="tariff bridge-flat version 1 is already"):
            store.tariffs.put(TariffVersion("bridge-flat", 1, T0, "changed"))


def entry_txn(n: int, plate: str | None = "京A·12345") -> Transaction:
    return Transaction.build(
        id=UUID(int=(int(T0.timestamp() * 1000) << 80) | (0x7 << 76) | (0b10 << 62) | n),
        lane_id="riverside-entry",
        kind="entry",
        status="passed",
        authorisation="rule",
        recorded_at=T0,
        plate_text=plate,
        vehicle_class=1,
        entry_time=T0,
    )


class TestOpenEntries:
    """An entry opens, its exit closes it, a second entry is anti-passback."""

    def test_open_find_close(self, store: Store) -> None:
        with store.batch():
            record = store.append_transaction(entry_txn(1))
            opened = store.entries.open(record)
        assert store.entries.find("京A12345") == opened
        assert (opened.txn_id, opened.entry_time, opened.lane_id) == (
            record.id,
            T0,
            "riverside-entry",
        )
        assert store.entries.close("京A 12345") == opened
        assert store.entries.find("京A12345") is None
        assert store.entries.close("京A12345") is None

    def test_second_entry_is_refused(self, store: Store) -> None:
        store.entries.open(store.append_transaction(entry_txn(1)))
        second = store.append_transaction(entry_txn(2))
        with pytest.raises(EntryAlreadyOpenError, match="plate 京A12345 already entered"):
            store.entries.open(second)
        assert store.entries.count() == 1

    def test_refused_open_rolls_back_its_batch(self, store: Store) -> None:
        store.entries.open(store.append_transaction(entry_txn(1)))
        with pytest.raises(EntryAlreadyOpenError), store.batch():
            store.entries.open(store.append_transaction(entry_txn(2)))
        assert len(store.transactions("riverside-entry")) == 1

    def test_refusal_caught_inside_a_batch_keeps_the_rest(self, store: Store) -> None:
        store.entries.open(store.append_transaction(entry_txn(1)))
        with store.batch():
            second = store.append_transaction(entry_txn(2))
            with pytest.raises(EntryAlreadyOpenError):
                store.entries.open(second)
            store.entries.close(second.plate_text or "")
            reopened = store.entries.open(second)
        assert len(store.transactions("riverside-entry")) == 2
        assert store.entries.find("京A12345") == reopened

    def test_entry_without_plate_opens_nothing(self, store: Store) -> None:
        record = store.append_transaction(entry_txn(1, plate=None))
        with pytest.raises(ValueError, match="only an entry record with a plate opens an entry"):
            store.entries.open(record)
