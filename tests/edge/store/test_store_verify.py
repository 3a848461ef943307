"""``lanewarden store verify``: every change to a stored record is found and named."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.records.lane_event import LaneEvent
from edge.commands.bench_store import BENCH_LANE, sample_transactions
from edge.store import Store
from edge.store.schema import MIGRATIONS, TRANSACTION_COLUMNS
from plumbing.cli import main

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
OTHER_UUID = "01a21768-3185-7242-ab89-9a399464cda5"

# A different value of the right type for every column of record lane_seq 5.
TAMPERED: dict[str, object] = {
    "lane_id": "elsewhere",
    "lane_seq": 500,
    "id": OTHER_UUID,
    "record_version": 1,
    "kind": "passage",
    "status": "voided",
    "authorisation": "operator",
    "recorded_at": "2026-11-20T09:00:00.000000Z",
    "plate_text": "B99999X",
    "plate_confidence": 0.5,
    "plate_nonce": "0" * 32,
    "plate_digest": "d" * 64,
    "plate_pseudonym": "c" * 64,
    "vehicle_class": 4,
    "listing": "whitelist",
    "entry_time": "2026-11-20T07:00:00.000000Z",
    "exit_time": "2026-11-20T10:00:00.000000Z",
    "entry_plaza": "north",
    "entry_txn_id": OTHER_UUID,
    "tariff_id": "other-tariff",
    "tariff_version": 9,
    "currency": "USD",
    "fee_items": '[{"amount":1,"label":"first hour"}]',
    "fee_total": 1,
    "payment_method": "account",
    "payment_status": "refunded",
    "gateway_ref": "gw-forged",
    "evidence_image_ids": '["img-forged"]',
    "operator_id": "op-7",
    "operator_reason": "forged",
    "references": OTHER_UUID,
    "flags": '["review"]',
    "prev_hash": "f" * 64,
    "hash": "e" * 64,
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lane.db"
    with Store.open(path) as store:
        for txn in sample_transactions(8, T0):
            store.append_transaction(txn)
        for n in range(3):
            store.append_event(
                LaneEvent.build(
                    lane_id=BENCH_LANE,
                    time=T0 + timedelta(seconds=n),
                    kind="mode_changed",
                    severity="info",
                    detail={"mode": "normal"},
                )
            )
    return path


def sql(path: Path, statement: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(statement, params)
    finally:
        conn.close()


def verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["store", "verify", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


class TestIntactStore:
    """An untouched store verifies."""

    def test_ok(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = verify(db, capsys)
        assert code == 0
        assert out.startswith(f"OK: {db}: 1 lane, 8 txn, 3 event records verified")

    def test_every_column_is_covered(self) -> None:
        assert set(TAMPERED) == set(TRANSACTION_COLUMNS)


class TestTampering:
    """Changing any one stored field of one record breaks verification at that record."""

    @pytest.mark.parametrize("column", TRANSACTION_COLUMNS)
    def test_changed_column_is_named_by_lane_seq(
        self, db: Path, column: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        sql(db, f'UPDATE transactions SET "{column}" = ? WHERE lane_seq = 5', (TAMPERED[column],))
        code, out = verify(db, capsys)
        assert code == 1
        assert f"lane {BENCH_LANE} txn lane_seq 5: " in out

    def test_hash_mismatch_is_reported(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        sql(db, "UPDATE transactions SET plate_text = 'B99999X' WHERE lane_seq = 5")
        assert "lane_seq 5: hash mismatch" in verify(db, capsys)[1]

    def test_prev_hash_mismatch_is_reported(
        self, db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        sql(db, "UPDATE transactions SET prev_hash = ? WHERE lane_seq = 5", ("f" * 64,))
        assert "lane_seq 5: prev_hash mismatch" in verify(db, capsys)[1]

    def test_rehashed_record_breaks_the_next_link(
        self, db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with Store.open(db) as store:
            record = store.transactions(BENCH_LANE, from_seq=5, limit=1)[0]
        forged = record.model_copy(update={"plate_text": "B99999X"})
        sql(
            db,
            "UPDATE transactions SET plate_text = ?, hash = ? WHERE lane_seq = 5",
            ("B99999X", forged.computed_hash()),
        )
        assert "lane_seq 6: prev_hash mismatch" in verify(db, capsys)[1]

    def test_reformatted_json_column_is_a_change(
        self, db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        sql(db, "UPDATE transactions SET flags = '[ ]' WHERE lane_seq = 5")
        assert "lane_seq 5: altered: flags not as the store writes it" in verify(db, capsys)[1]

    def test_deleted_record_is_a_gap(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        sql(db, "DELETE FROM transactions WHERE lane_seq = 5")
        code, out = verify(db, capsys)
        assert code == 1
        assert "lane_seq 5: seq gap: lane_seq 5 is missing (next is 6)" in out

    def test_deleted_last_record_is_found_by_the_head(
        self, db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        sql(db, "DELETE FROM transactions WHERE lane_seq = 8")
        assert (
            "lane_seq 8: seq gap: lane_seq 8 to 8 (the head) are missing" in verify(db, capsys)[1]
        )

    def test_record_moved_below_one_is_a_gap(
        self, db: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        sql(db, "UPDATE transactions SET lane_seq = 0 WHERE lane_seq = 5")
        assert "txn lane_seq 5: seq gap" in verify(db, capsys)[1]

    def test_changed_event_is_named(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        sql(db, 'UPDATE lane_events SET detail = \'{"mode":"closed"}\' WHERE lane_seq = 2')
        code, out = verify(db, capsys)
        assert code == 1
        assert f"lane {BENCH_LANE} event lane_seq 2: hash mismatch" in out


class TestUnusableFiles:
    """A file that cannot be verified says why and exits 2."""

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out = verify(tmp_path / "nope.db", capsys)
        assert (code, out.strip()) == (2, f"error: {tmp_path / 'nope.db'}: no such file")

    def test_not_a_database(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "junk.db"
        path.write_bytes(b"\x00junk" * 1000)
        code, out = verify(path, capsys)
        assert code == 2
        assert "not a readable SQLite database" in out

    def test_damaged_database(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        sql(db, "PRAGMA wal_checkpoint(TRUNCATE)")
        data = bytearray(db.read_bytes())
        page = 4096
        data[page * 2 : page * 3] = b"\xff" * page
        db.write_bytes(bytes(data))
        code, out = verify(db, capsys)
        assert code == 2
        assert f"error: {db}:" in out

    def test_newer_schema(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        sql(db, f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        code, out = verify(db, capsys)
        assert code == 2
        assert f"schema version {len(MIGRATIONS) + 1} is newer" in out

    def test_foreign_database(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "other.db"
        sql(path, "CREATE TABLE t (x INTEGER)")
        code, out = verify(path, capsys)
        assert code == 2
        assert "not a lanewarden store" in out
