"""A lane started on a damaged store refuses, names the file and the damage, and leaves every
file of the store (database, -wal, -shm, head file) byte for byte as it was."""

from __future__ import annotations

import hashlib
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from edge.commands.bench_store import sample_transactions
from edge.commands.edge_run import EXIT_FAILED, EXIT_STORE
from edge.daemon.testing import lane_files
from edge.store import Store, StoreDamagedError, check_store
from edge.store.head import head_file, load_head_file
from plumbing.cli import main

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CHECKPOINTED = 120
"""Records of the killed writer that are in the database file (checkpointed)."""
IN_WAL = 40
"""Records of the killed writer after the checkpoint, only in its WAL."""

# Appends records, moves the first ones into the database file with a checkpoint from a
# second connection, appends more (they stay in the WAL), says so, and waits to be killed.
WRITER = """
import sqlite3, sys, time
from datetime import datetime
from edge.commands.bench_store import sample_transactions
from edge.store import Store

path, first, more = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = Store.open(path)
txns = sample_transactions(first + more, datetime.fromisoformat(sys.argv[4]))
for n, txn in enumerate(txns):
    if n == first:
        other = sqlite3.connect(path)
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        other.close()
    store.append_transaction(txn)
print("written", flush=True)
time.sleep(60)
"""


def write_and_kill(path: Path) -> None:
    """The store as a lane killed with SIGKILL leaves it: database, -wal, -shm and head file."""
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(CHECKPOINTED), str(IN_WAL), T0.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line == b"written\n", child.stderr.read() if child.stderr else line
            child.send_signal(signal.SIGKILL)
            child.communicate()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("killed")
    write_and_kill(folder / "site.db")
    return folder


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store closed cleanly: everything is in the database file, no WAL."""
    folder = tmp_path_factory.mktemp("closed")
    with Store.open(folder / "site.db") as store:
        for txn in sample_transactions(CHECKPOINTED, T0):
            store.append_transaction(txn)
    return folder


def copy_of(original: Path, tmp_path: Path) -> Path:
    """A copy of a store's folder; returns the copy's database path."""
    folder = tmp_path / "store"
    shutil.copytree(original, folder)
    return folder / "site.db"


def snapshot(db: Path) -> dict[str, str]:
    """Every file in the store's folder and its SHA-256 (a file created later shows too)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.parent.iterdir()}


def edge_run(db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    lane = lane_files(db.parent.parent / "lane", store=db)
    code = main(["--log-level", "error", "edge", "run", "--config", str(lane)])
    return code, capsys.readouterr().err


def wal(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def shm(db: Path) -> Path:
    return db.with_name(db.name + "-shm")


def truncate(path: Path, size: int) -> None:
    with path.open("r+b") as f:
        f.truncate(size)


def overwrite(path: Path, at: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(at)
        f.write(data)


def page_size(db: Path) -> int:
    return int.from_bytes(db.read_bytes()[16:18], "big")


def truncate_half(db: Path) -> None:
    truncate(db, db.stat().st_size // 2)


def empty(db: Path) -> None:
    truncate(db, 0)


def overwrite_a_page(db: Path) -> None:
    size = page_size(db)
    middle = db.stat().st_size // size // 2
    overwrite(db, middle * size, bytes(range(256)) * (size // 256))


def tear_wal(db: Path) -> None:
    """The WAL cut in the middle of a frame: the commits after the cut are gone."""
    truncate(wal(db), wal(db).stat().st_size // 2 + 100)


def garble_wal_frame(db: Path) -> None:
    """A frame in the middle of the WAL overwritten: recovery stops at the commit before it."""
    frame = 24 + page_size(db)
    middle = (wal(db).stat().st_size - 32) // frame // 2
    overwrite(wal(db), 32 + middle * frame + 24, b"\x55" * 64)


def delete_head_file(db: Path) -> None:
    head_file(db).unlink()


def garble_head_file(db: Path) -> None:
    overwrite(head_file(db), 0, b"\x00" * head_file(db).stat().st_size)


def truncate_head_file(db: Path) -> None:
    truncate(head_file(db), 100)


Damage = Callable[[Path], None]
DAMAGED = "the SQLite file is damaged: "
EMPTIED = "the database file is empty (0 bytes) but its WAL site.db-wal holds"
LOST = f"the head file records lane_seq {CHECKPOINTED + IN_WAL} (hash "
NO_HEAD = "site.db-head is missing, but the store has records (lanes bench-exit)"


class TestDamagedStoreIsRefused:
    """edge run refuses a damaged store with EXIT_STORE, naming file and damage, files untouched."""

    @pytest.mark.parametrize(
        "case",
        [
            pytest.param(("closed", truncate_half, DAMAGED), id="truncated"),
            pytest.param(("killed", truncate_half, DAMAGED), id="truncated-with-wal"),
            pytest.param(("killed", empty, EMPTIED), id="emptied-with-wal"),
            pytest.param(("closed", overwrite_a_page, DAMAGED), id="page-overwritten"),
            pytest.param(("killed", tear_wal, LOST), id="torn-wal"),
            pytest.param(("killed", garble_wal_frame, LOST), id="wal-frame-overwritten"),
            pytest.param(("killed", delete_head_file, NO_HEAD), id="head-file-missing"),
            pytest.param(("killed", garble_head_file, "damaged: slot 1: "), id="head-file-garbled"),
            pytest.param(("closed", truncate_head_file, "damaged: 100 bytes"), id="head-file-cut"),
        ],
    )
    def test_refused_untouched(
        self,
        request: pytest.FixtureRequest,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        case: tuple[str, Damage, str],
    ) -> None:
        store, damage, said = case
        db = copy_of(request.getfixturevalue(store), tmp_path)
        damage(db)
        before = snapshot(db)
        code, err = edge_run(db, capsys)
        assert code == EXIT_STORE, err
        assert f"lane riverside-exit cannot start: store: {db}" in err
        assert said in err
        assert "Traceback" not in err
        assert snapshot(db) == before

    def test_torn_wal_without_its_shm(self, killed: Path, tmp_path: Path) -> None:
        """A WAL copied without its -shm is read from a private copy: no -shm appears."""
        db = copy_of(killed, tmp_path)
        shm(db).unlink()
        tear_wal(db)
        before = snapshot(db)
        with pytest.raises(StoreDamagedError, match="are lost"):
            check_store(db)
        assert snapshot(db) == before

    def test_store_open_keeps_the_wal_of_an_emptied_file(
        self, killed: Path, tmp_path: Path
    ) -> None:
        """Opening for writing refuses too: SQLite would delete the WAL beside an empty file."""
        db = copy_of(killed, tmp_path)
        empty(db)
        before = snapshot(db)
        with pytest.raises(StoreDamagedError, match="the database file is empty"):
            Store.open(db)
        assert snapshot(db) == before

    def test_lost_store_with_its_head_file(self, killed: Path, tmp_path: Path) -> None:
        db = copy_of(killed, tmp_path)
        for path in (db, wal(db), shm(db)):
            path.unlink()
        with pytest.raises(StoreDamagedError, match="no such file, but its head file"):
            check_store(db)

    def test_another_store_under_the_head_file(self, killed: Path, tmp_path: Path) -> None:
        db = copy_of(killed, tmp_path)
        other = tmp_path / "other.db"
        with Store.open(other) as store:
            for txn in sample_transactions(
                CHECKPOINTED + IN_WAL + 5, datetime(2026, 1, 1, tzinfo=UTC)
            ):
                store.append_transaction(txn)
        for path in (db, wal(db), shm(db)):
            path.unlink()
        shutil.copyfile(other, db)
        with pytest.raises(StoreDamagedError, match="not the one its head file was written for"):
            check_store(db)


class TestSoundStoreStarts:
    """A store killed mid-write passes the check; the WAL is then recovered by the lane."""

    def test_killed_store_passes_and_recovers(
        self, killed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = copy_of(killed, tmp_path)
        code, err = edge_run(db, capsys)
        assert code == EXIT_FAILED  # past the store: the test lane has no devices
        assert "io: cannot connect" in err
        assert "cannot start: store" not in err
        with Store.open(db) as store:
            assert len(store.transactions("bench-exit", limit=1000)) == CHECKPOINTED + IN_WAL

    def test_head_file_one_commit_behind(self, killed: Path, tmp_path: Path) -> None:
        """Killed between a commit and its head file write: the store is ahead, which is fine."""
        db = copy_of(killed, tmp_path)
        written = head_file(db).read_bytes()
        with Store.open(db) as store:
            first, second = sample_transactions(2, datetime(2026, 12, 2, tzinfo=UTC))
            store.append_transaction(first.model_copy(update={"lane_id": "new-lane"}))
            store.append_transaction(second)
        head_file(db).write_bytes(written)
        check_store(db)

    def test_torn_slot_falls_back_to_the_other(self, killed: Path, tmp_path: Path) -> None:
        db = copy_of(killed, tmp_path)
        overwrite(head_file(db), 10, b"\x00" * 100)
        heads = load_head_file(head_file(db))
        assert heads is not None
        assert heads[0].last_seq == CHECKPOINTED + IN_WAL - 1
        check_store(db)

    def test_new_store(self, tmp_path: Path) -> None:
        check_store(tmp_path / "new.db")
        with Store.open(tmp_path / "new.db"):
            pass
        assert load_head_file(head_file(tmp_path / "new.db")) == []
        check_store(tmp_path / "new.db")

    def test_head_file_write_failure_keeps_the_commit(self, tmp_path: Path) -> None:
        db = tmp_path / "site.db"
        head_file(db).mkdir()
        with Store.open(db) as store, capture_logs() as logs:
            (txn,) = sample_transactions(1, T0)
            record = store.append_transaction(txn)
            assert store.transaction(record.id) == record
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["head_file_write_failed"]


def store_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["store", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


class TestVerifyAgainstTheHeadFile:
    """store verify reports a head that falls short of the head file, and changes no file."""

    def test_torn_wal_is_broken(
        self, killed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = copy_of(killed, tmp_path)
        tear_wal(db)
        before = snapshot(db)
        code, out = store_cli("verify", str(db), capsys=capsys)
        assert code == 1
        assert f"BROKEN: {db}: lane bench-exit txn: the head file records lane_seq" in out
        assert snapshot(db) == before

    def test_killed_store_verifies_untouched(
        self, killed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = copy_of(killed, tmp_path)
        before = snapshot(db)
        code, out = store_cli("verify", str(db), capsys=capsys)
        assert (code, out.split(":")[0]) == (0, "OK")
        assert f"{CHECKPOINTED + IN_WAL} txn" in out
        assert snapshot(db) == before

    def test_damaged_head_file_is_broken(
        self, closed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = copy_of(closed, tmp_path)
        garble_head_file(db)
        code, out = store_cli("verify", str(db), capsys=capsys)
        assert code == 1
        assert f"BROKEN: {db}: head file {head_file(db)}: damaged" in out


class TestWriteHead:
    """store write-head accepts a store as it is, after its chains verify."""

    def test_lost_tail_accepted(
        self, killed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = copy_of(killed, tmp_path)
        tear_wal(db)
        code, out = store_cli("write-head", str(db), capsys=capsys)
        assert code == 0, out
        assert "replaced: lane bench-exit txn: the head file records" in out
        check_store(db)
        assert store_cli("verify", str(db), capsys=capsys)[0] == 0

    def test_broken_chain_refused(
        self, closed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = copy_of(closed, tmp_path)
        conn = sqlite3.connect(db)
        with conn:
            conn.execute("UPDATE transactions SET fee_total = 1 WHERE lane_seq = 3")
        conn.close()
        before = head_file(db).read_bytes()
        code, out = store_cli("write-head", str(db), capsys=capsys)
        assert code == 1
        assert "head file not written: 1 broken chains" in out
        assert head_file(db).read_bytes() == before
