"""``lanewarden bench store``: prints its figures, writes them as JSON, keeps --db."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.store.verify import verify
from plumbing.cli import main


class TestBenchStore:
    """The benchmark runs both loops and reports flat figures."""

    def test_figures_and_kept_database(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db, figures = tmp_path / "b.db", tmp_path / "b.json"
        argv = ["bench", "store", "--db", str(db), "--json", str(figures), "--count", "12"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        for name in ("txn_per_s", "sqlite_commit_per_s", "ratio"):
            assert name in out
        data = json.loads(figures.read_text())
        assert {"records", "txn_per_s", "sqlite_commit_per_s", "ratio", "txn_p99_ms"} <= set(data)
        assert all(isinstance(v, int | float) for v in data.values())
        assert data["records"] == 12
        assert data["ratio"] == pytest.approx(data["txn_per_s"] / data["sqlite_commit_per_s"], 0.01)
        report = verify(db)
        assert report.ok
        assert report.checked["txn"] == 12
        assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [], "scratch left behind"

    def test_bad_count_is_named(self) -> None:
        with pytest.raises(SystemExit, match="--count must be at least 1"):
            main(["bench", "store", "--count", "0"])
