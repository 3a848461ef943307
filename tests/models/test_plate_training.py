"""Training the plate network: labels, schedule, the command, and a smoke run (needs torch)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from models.plate_net import CHARSET, SYMBOLS, PlateNet
from models.training.data import DataError, encode
from models.training.train import TrainConfig, build_samples, learning_rate, train
from plumbing.cli import main
from simulators.plate_font import BUNDLED_FONT

HAS_TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("onnx")
NO_TORCH = "torch and onnx are not installed (pip install '.[train]')"


def small_run(tmp_path: Path, steps: int, resume: bool = False) -> TrainConfig:
    """A run on rendered plates only, with the bundled font and no shared data."""
    shared = tmp_path / "shared"
    (shared / "plates-train").mkdir(parents=True, exist_ok=True)
    (shared / "plates-train" / "ccpd_plate_strings.txt").write_text(
        "皖AB146Y\n沪C8GK31\n皖A0H582\n", encoding="utf-8"
    )
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"sets": []}', encoding="utf-8")
    return TrainConfig(
        out=tmp_path / "run",
        shared=shared,
        steps=steps,
        batch=32,
        real_share=0.0,
        checkpoint_every=5,
        log_every=5,
        resume=resume,
        manifest=manifest,
        font=BUNDLED_FONT,
    )


class TestLabels:
    """Plate texts become class indices; characters outside the set are refused."""

    def test_indices_are_one_based(self) -> None:
        assert [SYMBOLS[i] for i in encode("皖A12")] == list("皖A12")

    def test_unknown_character(self) -> None:
        with pytest.raises(DataError, match="characters a are not in the charset"):
            encode("皖a12")


class TestBatches:
    """A batch depends on the seed and the step only (a resumed run sees the same data)."""

    def test_same_seed_and_step_same_batch(self, tmp_path: Path) -> None:
        samples = build_samples(small_run(tmp_path, steps=1))
        a, b, c = samples.batch(0, 7, 4), samples.batch(0, 7, 4), samples.batch(0, 8, 4)
        assert [t for _, t in a] == [t for _, t in b]
        assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b, strict=True))
        assert [t for _, t in a] != [t for _, t in c]


class TestSchedule:
    """The learning rate warms up, then falls to zero at the last step."""

    def test_warmup_and_cosine(self, tmp_path: Path) -> None:
        config = TrainConfig(out=tmp_path, shared=tmp_path, steps=2000, lr=1e-3)
        assert learning_rate(config, 0) < 1e-5
        assert learning_rate(config, 499) == pytest.approx(1e-3)
        assert learning_rate(config, 2000) == pytest.approx(0.0, abs=1e-12)


class TestCommand:
    """``lanewarden plates train`` says what to install when torch is missing."""

    def test_without_torch(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        real = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a: None if name == "torch" else real(name, *a),
        )
        assert main(["plates", "train", str(tmp_path)]) == 2
        assert "pip install 'lanewarden[train]'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason=NO_TORCH)
class TestSmokeRun:
    """A short run on a few hundred rendered plates exports a model onnxruntime reads."""

    def test_train_export_resume(self, tmp_path: Path) -> None:
        model = train(small_run(tmp_path, steps=10))  # 320 rendered plates
        net = PlateNet(model)
        probs = net.probabilities([np.zeros((24, 94, 3), np.uint8)] * 2)
        assert probs.shape == (2, 48, len(SYMBOLS))
        assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-4)
        read = net.read([np.zeros((24, 94, 3), np.uint8)], "cn")[0]
        assert 0.0 <= read.confidence <= 1.0
        assert set(read.text) <= set(CHARSET)

        train(small_run(tmp_path, steps=15, resume=True))
        records = [
            json.loads(line)
            for line in (tmp_path / "run" / "train.log").read_text(encoding="utf-8").splitlines()
        ]
        starts = [r["step"] for r in records if r["event"] == "start"]
        assert starts == [0, 10]
        assert [r["step"] for r in records if r["event"] == "checkpoint"] == [5, 10, 15]
        losses = [r["loss"] for r in records if r["event"] == "progress"]
        assert all(np.isfinite(losses))
