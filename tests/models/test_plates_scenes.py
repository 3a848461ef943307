"""Frames of plates seen at an angle, made from crops and frames (``lanewarden plates scenes``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from paths import TEST_DATA

from models.bench import BenchError
from models.image import load_image
from models.scenes import paste, write_set
from plumbing.cli import main

DATA = TEST_DATA / "plates"
FRAME = "ccpd_0bfc3934f7fc.jpg"
FRAME_BOX = (249, 560, 561, 670)  # its plate, from its CCPD file name
CROPS = {"cn_019d088c29af.jpg": "皖AB146Y", "cn_06036a07ca17.jpg": "皖ALG516"}


def folders(tmp_path: Path) -> tuple[Path, Path]:
    crops, frames = tmp_path / "crops", tmp_path / "frames"
    crops.mkdir()
    frames.mkdir()
    for name in CROPS:
        (crops / name).write_bytes((DATA / name).read_bytes())
    (crops / "labels.csv").write_text(
        "file,plate\n" + "".join(f"{n},{p}\n" for n, p in CROPS.items()), encoding="utf-8"
    )
    (frames / FRAME).write_bytes((DATA / FRAME).read_bytes())
    (frames / "labels.csv").write_text(
        "file,plate,x1,y1,x2,y2\n" + f"{FRAME},皖ALJ624,{','.join(map(str, FRAME_BOX))}\n",
        encoding="utf-8",
    )
    return crops, frames


def test_paste_hides_the_frames_plate_and_boxes_the_crop() -> None:
    frame = load_image(DATA / FRAME)
    crop = np.full((24, 94, 3), (180, 60, 20), dtype=np.uint8)
    scene, box = paste(crop, frame, FRAME_BOX, turn=10.0, shear=0.2, width=150.0)
    assert scene.shape == frame.shape
    # The box is the pasted plate's, tightly: every pixel of the plate's colour
    # (none is in the frame) lies in it, and they reach its edges (bar blended corners).
    ys, xs = np.nonzero((scene == (180, 60, 20)).all(axis=2))
    x1, y1, x2, y2 = box
    assert abs(xs.min() - x1) <= 4
    assert abs(xs.max() - x2) <= 4
    assert abs(ys.min() - y1) <= 4
    assert abs(ys.max() - y2) <= 4
    assert (scene[615, 405] == (180, 60, 20)).all()  # centred on the frame's own plate
    # Outside the pasted plate but inside the old box, the old plate is blurred.
    old = frame[565:575, 255:265].astype(float)
    assert scene[565:575, 255:265].astype(float).std() < old.std()


def test_scenes_are_a_set_the_bench_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crops, frames = folders(tmp_path)
    out = tmp_path / "out"
    assert main(["plates", "scenes", str(crops), str(frames), str(out), "--seed", "3"]) == 0
    folder = out / "crops_in_frames_seed3"
    assert str(folder) in capsys.readouterr().out
    with (folder / "labels.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["file"]: r["plate"] for r in rows} == {
        "cn_019d088c29af.png": "皖AB146Y",
        "cn_06036a07ca17.png": "皖ALG516",
    }
    report = tmp_path / "bench.json"
    assert main(["bench", "plates", str(out), "--json", str(report)]) == 0
    (row,) = json.loads(report.read_text(encoding="utf-8"))
    assert (row["set"], row["n"]) == ("crops_in_frames_seed3", 2)


def test_same_seed_same_scenes(tmp_path: Path) -> None:
    crops, frames = folders(tmp_path)
    for out in ("a", "b"):
        assert main(["plates", "scenes", str(crops), str(frames), str(tmp_path / out)]) == 0
    a = (tmp_path / "a" / "crops_in_frames_seed0" / "labels.csv").read_text(encoding="utf-8")
    b = (tmp_path / "b" / "crops_in_frames_seed0" / "labels.csv").read_text(encoding="utf-8")
    assert a == b


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "no labels.csv"),
        ("file,plate\nccpd_x.jpg,AB\n", "needs the columns x1, y1, x2, y2"),
        ("file,plate,x1,y1,x2,y2\nccpd_x.jpg,AB,1,2,three,4\n", "line 2: box is not numbers"),
        ("file,plate,x1,y1,x2,y2\n", "no images"),
    ],
)
def test_bad_frames_folder_is_named(tmp_path: Path, labels: str | None, message: str) -> None:
    crops, _ = folders(tmp_path)
    frames = tmp_path / "bad"
    frames.mkdir()
    if labels is not None:
        (frames / "labels.csv").write_text(labels, encoding="utf-8")
    with pytest.raises(BenchError, match=message):
        write_set(crops, frames, tmp_path / "out", 0)


def test_command_reports_a_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crops, _ = folders(tmp_path)
    missing = tmp_path / "nowhere"
    assert main(["plates", "scenes", str(crops), str(missing), str(tmp_path / "out")]) == 2
    assert f"{missing}: no labels.csv" in capsys.readouterr().err


def test_command_reports_an_unreadable_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crops, frames = folders(tmp_path)
    (crops / "cn_019d088c29af.jpg").write_bytes(b"not an image")
    assert main(["plates", "scenes", str(crops), str(frames), str(tmp_path / "out")]) == 2
    assert "cn_019d088c29af.jpg" in capsys.readouterr().err
