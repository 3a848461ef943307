"""``lanewarden bench lane``: a lane process against the simulators, figures as a table and JSON.

No timed assertions: only that the figures are there and sane.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from paths import TEST_DATA

from fleet.bench import BenchError, labelled_images, percentile
from plumbing.cli import main

PLATES = TEST_DATA / "plates"
KEYS = {
    "open_ms_p50",
    "open_ms_p95",
    "open_ms_p99",
    "read_rate",
    "vehicles_per_min",
    "rss_mb",
    "stranded",
}


class TestBenchLane:
    """A few vehicles through the lane, CPU burners beside it, give every figure."""

    @pytest.mark.slow
    def test_figures(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        images = tmp_path / "images"
        images.mkdir()
        # Two shipped photos the bundled reader reads; their labels as the original file names.
        for name in ("cn_019d088c29af.jpg", "cn_06036a07ca17.jpg"):
            shutil.copy(PLATES / name, images)
        (images / "labels.csv").write_text(
            "file,plate\ncn_019d088c29af.jpg,皖AB146Y\ncn_06036a07ca17.jpg,皖ALG516\n",
            encoding="utf-8",
        )
        figures = tmp_path / "lane.json"
        argv = ["bench", "lane", "--vehicles", "1", "--load", "1", "--images", str(images)]
        argv += ["--json", str(figures)]
        assert main(argv) == 0
        out = capsys.readouterr().out
        for key in KEYS:
            assert key in out
        data = json.loads(figures.read_text())
        assert set(data) >= KEYS
        assert (data["vehicles"], data["load"]) == (1, 1)
        assert data["stranded"] in {0, 1}
        assert data["reads_late"] >= 0
        assert 0.0 <= data["read_rate"] <= 1.0
        assert data["rss_mb"] > 0
        assert data["lane_cpu_weight"] in {100, 305}  # default, or the unit's 300 as nice -5
        assert "plate reader" in data["lane_priority"]
        assert "priority: " in out
        if data["account_paid"]:
            assert 0 < data["open_ms_p50"] <= data["open_ms_p95"] <= data["open_ms_p99"]
            assert data["vehicles_per_min"] > 0
        else:
            assert data["open_ms_p50"] is None


class TestImagesFolder:
    """A bad --images folder is refused, naming what is wrong."""

    def test_not_a_folder(self, tmp_path: Path) -> None:
        with pytest.raises(BenchError, match="not a folder"):
            labelled_images(tmp_path / "missing")

    def test_no_labels(self, tmp_path: Path) -> None:
        with pytest.raises(BenchError, match=r"no labels\.csv"):
            labelled_images(tmp_path)

    def test_labels_name_no_image(self, tmp_path: Path) -> None:
        (tmp_path / "labels.csv").write_text("file,plate\ngone.jpg,皖A12345\n", encoding="utf-8")
        with pytest.raises(BenchError, match="names no image file"):
            labelled_images(tmp_path)

    def test_command_reports_it(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["bench", "lane", "--images", str(tmp_path)]) == 2
        assert "no labels.csv" in capsys.readouterr().err

    def test_load_not_negative(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["bench", "lane", "--load", "-1"]) == 2
        assert "--load must be 0 or more, got -1" in capsys.readouterr().err

    def test_vehicles_at_least_one(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["bench", "lane", "--vehicles", "0"]) == 2
        assert "--vehicles must be at least 1, got 0" in capsys.readouterr().err


class TestPercentile:
    """Linear between closest ranks; nothing without values."""

    def test_values(self) -> None:
        values = [4.0, 1.0, 3.0, 2.0]
        assert percentile(values, 0) == 1.0
        assert percentile(values, 50) == 2.5
        assert percentile(values, 100) == 4.0
        assert percentile([], 95) is None
