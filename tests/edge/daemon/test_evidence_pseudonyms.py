"""Plate text past its retention becomes a keyed pseudonym; the chain still verifies."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.records.sealed import TransactionRecord, plate_commitment
from edge.commands.bench_store import BENCH_LANE, sample_transactions
from edge.store import Store, verify
from edge.store.plates import plate_pseudonym
from plumbing.cli import main

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
KEY = b"site-secret-0123456789"


def sql(path: Path, statement: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Six exits 7 s apart; the 1st and 4th are the same car, written two ways."""
    path = tmp_path / "lane.db"
    with Store.open(path) as store:
        for n, txn in enumerate(sample_transactions(6, T0)):
            plate = {0: "B-00042X", 3: "b00042x"}.get(n, txn.plate_text)
            store.append_transaction(txn.model_copy(update={"plate_text": plate}))
    return path


def records(path: Path) -> list[TransactionRecord]:
    with Store.open(path) as store:
        return store.transactions(BENCH_LANE)


class TestPseudonymisation:
    """Old plate text is replaced by a pseudonym; newer text is kept."""

    def test_only_records_before_the_cutoff_change(self, db: Path) -> None:
        with Store.open(db) as store:
            changed = store.pseudonymise_plates(T0 + timedelta(seconds=20), KEY)
        after = records(db)
        assert changed == 3
        assert [r.plate_text is None for r in after] == [True] * 3 + [False] * 3
        assert [r.plate_pseudonym is None for r in after] == [False] * 3 + [True] * 3

    def test_text_and_nonce_are_gone_and_the_commitment_stays(self, db: Path) -> None:
        before = records(db)[1]
        assert before.plate_text is not None
        assert before.plate_nonce is not None
        with Store.open(db) as store:
            store.pseudonymise_plates(T0 + timedelta(days=1), KEY)
        after = records(db)[1]
        assert (after.plate_text, after.plate_nonce) == (None, None)
        assert after.plate_digest == plate_commitment(before.plate_nonce, before.plate_text)
        assert after.plate_pseudonym == plate_pseudonym(KEY, before.plate_text)
        assert after.plate_confidence == before.plate_confidence
        assert after.hash == before.hash

    def test_equal_plates_keep_equal_pseudonyms(self, db: Path) -> None:
        with Store.open(db) as store:
            store.pseudonymise_plates(T0 + timedelta(days=1), KEY)
        pseudonyms = [r.plate_pseudonym for r in records(db)]
        assert pseudonyms[0] == pseudonyms[3]
        assert len(set(pseudonyms)) == 5

    def test_another_site_key_gives_other_pseudonyms(self) -> None:
        assert plate_pseudonym(KEY, "B00042X") != plate_pseudonym(b"x" * 16, "B00042X")

    def test_small_batches_reach_every_record(self, db: Path) -> None:
        with Store.open(db) as store:
            assert store.pseudonymise_plates(T0 + timedelta(days=1), KEY, batch=4) == 6
            assert store.pseudonymise_plates(T0 + timedelta(days=1), KEY, batch=4) == 0

    def test_short_key_is_refused_before_any_change(self, db: Path) -> None:
        with (
            Store.open(db) as store,
            pytest.raises(ValueError, match="key: a pseudonym key needs at least 16 bytes, got 5"),
        ):
            store.pseudonymise_plates(T0 + timedelta(days=1), b"short")
        assert all(r.plate_text is not None for r in records(db))

    def test_naive_cutoff_is_refused(self, db: Path) -> None:
        with Store.open(db) as store, pytest.raises(ValueError, match="before: must be timezone"):
            store.pseudonymise_plates(datetime(2026, 11, 2), KEY)


class TestChainAfterPseudonymisation:
    """Pseudonymised records still verify, and tampering is still found."""

    @pytest.fixture
    def pseudonymised(self, db: Path) -> Path:
        with Store.open(db) as store:
            store.pseudonymise_plates(T0 + timedelta(seconds=20), KEY)
        return db

    def test_store_verifies(self, pseudonymised: Path) -> None:
        report = verify(pseudonymised)
        assert report.ok, report.breaks
        assert report.checked["txn"] == 6

    def test_store_verify_command_passes(
        self, pseudonymised: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["store", "verify", str(pseudonymised)]) == 0
        assert capsys.readouterr().out.startswith(f"OK: {pseudonymised}: 1 lane, 6 txn")

    def test_chain_goes_on_after_pseudonymisation(self, pseudonymised: Path) -> None:
        with Store.open(pseudonymised) as store:
            for txn in sample_transactions(2, T0 + timedelta(hours=1)):
                store.append_transaction(txn)
        assert verify(pseudonymised).ok

    def test_central_accepts_the_record_with_its_hash(self, pseudonymised: Path) -> None:
        record = records(pseudonymised)[0]
        assert TransactionRecord.from_json(record.to_json()) == record

    @pytest.mark.parametrize(
        ("column", "value", "problem"),
        [
            ("plate_digest", "d" * 64, "hash mismatch"),
            ("fee_total", 1, "invalid record"),
            ("plate_text", "B00042X", "invalid record: plate_nonce: required with plate_text"),
            ("plate_nonce", "0" * 32, "invalid record: plate_nonce: given without plate_text"),
            ("plate_pseudonym", None, "invalid record"),
        ],
    )
    def test_tampering_a_pseudonymised_record_is_found(
        self, pseudonymised: Path, column: str, value: object, problem: str
    ) -> None:
        sql(pseudonymised, f"UPDATE transactions SET {column} = ? WHERE lane_seq = 2", (value,))
        report = verify(pseudonymised)
        assert len(report.breaks) == 1
        assert report.breaks[0].lane_seq == 2
        assert problem in report.breaks[0].problem

    def test_restoring_other_plate_text_is_found(self, pseudonymised: Path) -> None:
        sql(
            pseudonymised,
            "UPDATE transactions SET plate_text = 'B99999X', plate_nonce = ?, "
            "plate_digest = NULL, plate_pseudonym = NULL WHERE lane_seq = 2",
            ("0" * 32,),
        )
        assert "hash mismatch" in verify(pseudonymised).breaks[0].problem

    def test_changed_kept_plate_is_a_hash_mismatch(self, pseudonymised: Path) -> None:
        sql(pseudonymised, "UPDATE transactions SET plate_text = 'B99999X' WHERE lane_seq = 5")
        assert "hash mismatch" in verify(pseudonymised).breaks[0].problem


class TestVersionOneRecords:
    """Records sealed before plate commitments keep verifying and keep their text."""

    def test_version_1_record_is_left_alone(self, tmp_path: Path) -> None:
        path = tmp_path / "lane.db"
        with Store.open(path) as store:
            txn = next(iter(sample_transactions(1, T0)))
            sealed = store.append_transaction(txn)
        legacy = sealed.model_copy(update={"record_version": 1, "plate_nonce": None})
        legacy_hash = legacy.computed_hash()
        sql(
            path,
            "UPDATE transactions SET record_version = 1, plate_nonce = NULL, hash = ?",
            (legacy_hash,),
        )
        sql(path, "UPDATE streams SET last_hash = ?", (legacy_hash,))
        # The chain verifies; the head file still names the hash from before the rewrite.
        assert verify(path).breaks == []
        with Store.open(path) as store:
            assert store.pseudonymise_plates(T0 + timedelta(days=1), KEY) == 0
        assert records(path)[0].plate_text == txn.plate_text
        assert verify(path).breaks == []
