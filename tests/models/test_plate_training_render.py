"""The training plate renderer: plate strings, flat plates and their augmentation.

Rendering uses the plate-glyph font the camera simulator bundles, so no system
font is needed; the test of the Debian fonts skips naming the packages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.grammar import grammar_for
from models.training import strings
from models.training.augment import cut, degrade, place
from models.training.fonts import FontError, PlateFonts
from models.training.render import PX_PER_MM, Renderer, _cn_positions
from simulators.plate_font import BUNDLED_FONT

CCPD = ["皖AB146Y", "皖A0H582", "沪C8GK31", "皖AD2281"]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(PlateFonts.single(BUNDLED_FONT), strings.ChineseStrings(CCPD))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class TestStrings:
    """Synthetic strings fit their region's grammar and skip validation plates."""

    @pytest.mark.parametrize("region", ["cn", "us", "eu", "br"])
    def test_every_text_fits_a_template(self, renderer: Renderer, region: str) -> None:
        gen = rng(1)
        for _ in range(60):
            text = renderer.plate(gen, region).text
            assert grammar_for(region).plate_type(text) != "unknown", text  # type: ignore[arg-type]

    def test_province_is_reweighted(self) -> None:
        pool = strings.ChineseStrings(CCPD)
        gen = rng(2)
        firsts = [pool.blue(gen)[0] for _ in range(600)]
        assert firsts.count("皖") < 150  # 10 % home plus 1/31 of the rest, not CCPD's 88 %
        assert len(set(firsts)) > 25

    def test_excluded_plates_never_drawn(self) -> None:
        pool = strings.ChineseStrings(["皖A12345"], exclude={"皖A12345"})
        gen = rng(3)
        assert all(pool.blue(gen) != "皖A12345" for _ in range(300))

    def test_look_alikes_are_frequent(self) -> None:
        gen = rng(4)
        text = "".join(strings.us(gen) for _ in range(300))
        share = sum(ch in strings.LOOK_ALIKES for ch in text) / len(text)
        assert share > 0.4  # 14 of 35 characters by chance: 0.4; with the bias well above

    def test_us_plates_never_carry_O(self) -> None:
        gen = rng(5)
        assert all("O" not in strings.us(gen) for _ in range(300))

    def test_empty_list_is_refused(self) -> None:
        with pytest.raises(strings.StringError, match="no 7-character"):
            strings.ChineseStrings(["ABC"])

    def test_unreadable_file_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(strings.StringError, match=r"missing\.txt"):
            strings.ChineseStrings.from_file(tmp_path / "missing.txt")


class TestFlatPlates:
    """Plates are drawn at their standard size, with their text, the same for a seed."""

    def test_ga36_geometry(self) -> None:
        width, lefts, dot = _cn_positions(7)
        assert lefts[0] == 15.5
        assert lefts[-1] + width + 15.5 == pytest.approx(440.0)
        assert lefts[1] + width < dot < lefts[2]
        width8, lefts8, _ = _cn_positions(8)
        assert lefts8[-1] + width8 + 15.5 == pytest.approx(480.0)

    @pytest.mark.parametrize(
        ("region", "size_mm"),
        [("us", (305, 152)), ("eu", (520, 110)), ("br", (400, 130))],
    )
    def test_plate_size(self, renderer: Renderer, region: str, size_mm: tuple[int, int]) -> None:
        plate = renderer.plate(rng(6), region)
        assert plate.image.shape == (
            round(size_mm[1] * PX_PER_MM),
            round(size_mm[0] * PX_PER_MM),
            3,
        )
        assert plate.image.dtype == np.uint8

    def test_chinese_plates_by_length(self, renderer: Renderer) -> None:
        gen = rng(7)
        for _ in range(40):
            plate = renderer.plate(gen, "cn")
            width_mm = 480 if len(plate.text) == 8 else 440
            assert plate.image.shape[1] == round(width_mm * PX_PER_MM)
            assert (plate.style == "green") == (len(plate.text) == 8)

    def test_same_seed_same_plate(self, renderer: Renderer) -> None:
        a, b = renderer.plate(rng(8)), renderer.plate(rng(8))
        assert a.text == b.text
        assert np.array_equal(a.image, b.image)

    def test_text_is_drawn(self, renderer: Renderer) -> None:
        """A glyph cell of a blue plate holds ink of the text colour, an empty margin none."""
        gen = rng(9)
        plate = next(p for p in (renderer.plate(gen, "cn") for _ in range(50)) if p.style == "blue")
        img = plate.image.astype(int)
        x0, x1 = round(15.5 * PX_PER_MM), round((15.5 + 45) * PX_PER_MM)
        y0, y1 = round(25 * PX_PER_MM), round(115 * PX_PER_MM)
        white = (img[:, :, 0] > 180) & (img[:, :, 2] > 180)
        assert white[y0:y1, x0:x1].mean() > 0.15  # the province glyph
        assert white[round(17 * PX_PER_MM) : y0 - 2, x0:x1].mean() < 0.05  # above the glyphs

    def test_unknown_region(self, renderer: Renderer) -> None:
        with pytest.raises(ValueError, match="no plate style for region 'jp'"):
            renderer.plate(rng(), "jp")


class TestAugment:
    """Augmented crops are BGR images of a plausible size, the same for a seed."""

    def test_crop_shape_and_determinism(self, renderer: Renderer) -> None:
        plate = renderer.plate(rng(10), "cn")
        a = degrade(place(plate.image, rng(11), tight=True), rng(12))
        b = degrade(place(plate.image, rng(11), tight=True), rng(12))
        assert np.array_equal(a, b)
        assert a.shape[2:] == (3,)
        assert a.dtype == np.uint8
        assert 18 <= a.shape[0] < 72
        assert 2.0 < a.shape[1] / a.shape[0] < 5.0

    def test_cut_stays_inside_the_frame(self) -> None:
        frame = np.zeros((100, 200, 3), np.uint8)
        for seed in range(20):
            crop = cut(frame, (0, 0, 50, 20), rng(seed))
            assert min(crop.shape[:2]) >= 4


class TestSystemFonts:
    """The Debian fonts training uses are found where Debian installs them."""

    def test_all_groups_found(self) -> None:
        try:
            fonts = PlateFonts.system()
        except FontError as exc:
            pytest.skip(str(exc))
        assert all((fonts.cjk, fonts.din, fonts.us, fonts.small))

    def test_missing_fonts_name_the_packages(self, tmp_path: Path) -> None:
        with pytest.raises(FontError, match=r"apt-get install .*fonts-wqy-microhei"):
            PlateFonts.system(tmp_path)

    def test_single_font_must_exist(self, tmp_path: Path) -> None:
        with pytest.raises(FontError, match="font file not found"):
            PlateFonts.single(tmp_path / "none.ttf")
