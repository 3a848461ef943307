"""The training data manifest: real sets split into train and validation by plate string."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import REPO

from models.training import manifest
from models.training.manifest import ManifestError, SetPolicy
from plumbing.cli import main

SHARED = REPO.parent / "shared"


def write_set(root: Path, folder: str, rows: list[str], header: str = "file,plate") -> None:
    path = root / folder
    path.mkdir(parents=True)
    (path / "labels.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


PLATES = [f"皖A{i:05d}" for i in range(200)]


class TestSplit:
    """A plate's side depends on its string only, so it is the same in every set."""

    def test_same_plate_same_side_in_every_set(self, tmp_path: Path) -> None:
        write_set(tmp_path, "a/crops", [f"cn_{i}.jpg,{p}" for i, p in enumerate(PLATES)])
        write_set(
            tmp_path,
            "b/frames",
            [f"ccpd_{i}.jpg,{p},1,2,30,40" for i, p in enumerate(reversed(PLATES))],
            "file,plate,x1,y1,x2,y2",
        )
        sets = manifest.build(
            tmp_path, [SetPolicy("a/crops", "MIT", True), SetPolicy("b/frames", "MIT", True)]
        )
        sides = [{e.plate for e in s.validation} for s in sets]
        assert sides[0] == sides[1]
        assert manifest.check(sets) == []
        share = len(sides[0]) / len(PLATES)
        assert 0.25 < share < 0.55  # VALIDATION_SHARE is 0.4
        assert sets[1].validation[0].box == (1, 2, 30, 40)

    def test_split_ignores_separators_and_case(self) -> None:
        assert manifest.is_validation("ab-c 123") == manifest.is_validation("ABC123")

    def test_validation_only_set_has_no_train_part(self, tmp_path: Path) -> None:
        write_set(tmp_path, "br", [f"br_{i}.jpg,ABC{i:04d}" for i in range(50)])
        (s,) = manifest.build(tmp_path, [SetPolicy("br", "AGPL-3.0", False, True)])
        assert not s.train
        assert len(s.validation) == 50

    def test_check_reports_a_plate_on_both_sides(self) -> None:
        entry = manifest.Entry("x/cn_1.jpg", "皖A12345")
        policy = SetPolicy("x", "MIT", True)
        sets = [manifest.DataSet("x", policy, (entry,), (entry,))]
        assert manifest.check(sets) == ["plates on both sides: 皖A12345"]

    def test_round_trip_through_json(self, tmp_path: Path) -> None:
        write_set(tmp_path, "s", [f"cn_{i}.jpg,{p}" for i, p in enumerate(PLATES[:30])])
        sets = manifest.build(tmp_path, [SetPolicy("s", "MIT", True)])
        path = tmp_path / "m.json"
        path.write_text(manifest.to_json(sets), encoding="utf-8")
        assert manifest.load(path) == sets


class TestBadInput:
    """Malformed labels and manifests are refused with the file named."""

    def test_labels_without_plate_column(self, tmp_path: Path) -> None:
        write_set(tmp_path, "s", ["cn_1.jpg"], header="file")
        with pytest.raises(ManifestError, match=r"labels.csv: needs 'file' and 'plate'"):
            manifest.read_labels(tmp_path, "s")

    def test_box_that_is_not_numbers(self, tmp_path: Path) -> None:
        write_set(tmp_path, "s", ["cn_1.jpg,皖A12345,a,b,c,d"], "file,plate,x1,y1,x2,y2")
        with pytest.raises(ManifestError, match="line 2: box is not numbers"):
            manifest.read_labels(tmp_path, "s")

    def test_row_without_a_plate(self, tmp_path: Path) -> None:
        write_set(tmp_path, "s", ["cn_1.jpg, - "])
        with pytest.raises(ManifestError, match=r"cn_1\.jpg has no plate"):
            manifest.read_labels(tmp_path, "s")

    def test_missing_labels_names_the_shared_folder(self, tmp_path: Path) -> None:
        with pytest.raises(ManifestError, match=r"no labels\.csv"):
            manifest.read_labels(tmp_path, "nothing")

    def test_manifest_that_is_not_one(self, tmp_path: Path) -> None:
        path = tmp_path / "m.json"
        path.write_text('{"sets": [{"name": 1}]}', encoding="utf-8")
        with pytest.raises(ManifestError, match="not a plate manifest"):
            manifest.load(path)


class TestShippedManifest:
    """The committed manifest keeps its promises."""

    def test_no_plate_on_both_sides_and_br_crops_validation_only(self) -> None:
        sets = {s.name: s for s in manifest.load()}
        assert manifest.check(list(sets.values())) == []
        assert not sets["br_crops"].train
        assert not sets["openalpr_us_crops"].policy.weights  # AGPL: never in the weights
        assert all(not Path(e.path).is_absolute() for s in sets.values() for e in s.train)

    def test_matches_the_shared_sets(self) -> None:
        if not (SHARED / "datasets").is_dir():
            pytest.skip(f"the shared data folder {SHARED} is not on this machine")
        assert manifest.to_json(manifest.build(SHARED)) == manifest.MANIFEST.read_text(
            encoding="utf-8"
        )


class TestCommands:
    """``plates manifest`` and ``plates eval`` refuse bad input with exit status 2."""

    def test_manifest_without_the_shared_sets(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "m.json"
        assert main(["plates", "manifest", "--shared", str(tmp_path), "--out", str(out)]) == 2
        assert "no labels.csv" in capsys.readouterr().err
        assert not out.exists()

    def test_eval_of_an_unknown_set(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(["plates", "eval", str(tmp_path / "m.onnx"), "--sets", "nope"])
        assert code == 2
        assert "no set nope in the manifest" in capsys.readouterr().err

    def test_eval_of_a_missing_model(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(["plates", "eval", str(tmp_path / "m.onnx"), "--sets", "cn_crops_extra"])
        assert code == 2
        assert "model file not found" in capsys.readouterr().err
