"""``plates eval``'s figures: exact, coverage and error among accepted per set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.config import Region
from models.training.evaluate import crop_of, evaluate, format_rows
from models.training.manifest import DataSet, Entry, SetPolicy


def image_set(root: Path) -> DataSet:
    folder = root / "s"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"cn_{i}.png"), np.full((24, 94, 3), 40 * i, np.uint8))
    cv2.imwrite(str(folder / "ccpd_9.png"), np.zeros((100, 200, 3), np.uint8))
    (folder / "cn_broken.png").write_bytes(b"not an image")
    entries = tuple(Entry(f"s/cn_{i}.png", f"皖A1234{i}") for i in range(4))
    frame = Entry("s/ccpd_9.png", "皖A12349", (50, 40, 150, 70))
    broken = Entry("s/cn_broken.png", "皖A00000")
    return DataSet("s", SetPolicy("s", "MIT", True), (), (*entries, frame, broken))


class TestEvaluate:
    """Each read is scored against its label; an unreadable image counts as a miss."""

    def test_figures(self, tmp_path: Path) -> None:
        seen: list[tuple[int, int]] = []

        # Crops by grey level: right and sure, right and unsure, wrong and sure, wrong and unsure.
        answers = [("皖A12340", 0.95), ("皖A12341", 0.5), ("皖A99999", 0.99), ("X", 0.1)]

        def engine(crop: np.ndarray, region: Region) -> tuple[str, float]:
            assert region == "cn"
            seen.append(crop.shape[:2])
            if crop.shape[0] != 24:  # the frame
                return "皖A12349", 0.97
            return answers[int(crop[0, 0, 0]) // 40]

        (row,) = evaluate(
            "fake", engine, tmp_path, [image_set(tmp_path)], part="validation", threshold=0.9
        )
        assert row.n == 6
        assert row.exact == round(3 / 6, 4)
        assert row.coverage == round(3 / 6, 4)  # 0.95, 0.99, 0.97
        assert row.error_rate == round(1 / 3, 4)
        assert (36, 108) in seen  # the frame's box, widened by the margin
        assert "fake" in format_rows([row])

    def test_frame_box_is_cut_with_margin(self, tmp_path: Path) -> None:
        dataset = image_set(tmp_path)
        crop = crop_of(tmp_path, dataset.validation[4])
        assert crop.shape[:2] == (36, 108)
