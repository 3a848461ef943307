"""The plate font shipped in the package: the glyphs plates need, its licence, and no system font needed."""

from __future__ import annotations

import fnmatch
import os
import string
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont
from needs import program
from paths import REPO

from models.grammar import CN_SUFFIXES, PROVINCES
from simulators.plate_font import BUNDLED_FONT, FONTS, PLATE_GLYPHS, main, missing_glyphs, subset

LANEWARDEN = (sys.executable, "-m", "plumbing.cli")


def characters(path: Path) -> set[str]:
    with TTFont(str(path)) as font:
        return {chr(code) for code in font.getBestCmap()}


class TestBundledFont:
    """The font holds every character a plate is drawn with, is small, and ships with its licence."""

    def test_holds_exactly_the_plate_glyphs(self) -> None:
        assert characters(BUNDLED_FONT) == set(PLATE_GLYPHS)

    def test_plate_glyphs_cover_the_grammar(self) -> None:
        wanted = PROVINCES | CN_SUFFIXES | set("使") | set(string.ascii_uppercase + string.digits)
        assert wanted <= set(PLATE_GLYPHS)
        assert len(PROVINCES) == 31

    def test_small(self) -> None:
        assert BUNDLED_FONT.stat().st_size < 64 * 1024

    def test_licence_and_origin_beside_it(self) -> None:
        assert "Apache License" in (FONTS / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
        origin = (FONTS / "README.md").read_text(encoding="utf-8")
        assert "WenQuanYi Micro Hei" in origin
        assert "python -m simulators.plate_font" in origin
        assert "simulators/fonts" in (REPO / "README.md").read_text(encoding="utf-8")

    def test_package_data_ships_font_and_licence(self) -> None:
        with (REPO / "pyproject.toml").open("rb") as f:
            package_data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
        patterns = package_data.get("simulators", []) + package_data.get("*", [])
        for path in (BUNDLED_FONT, FONTS / "LICENSE-Apache-2.0.txt", FONTS / "README.md"):
            relative = path.relative_to(FONTS.parent).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative

    def test_missing_glyphs_named_once_in_order(self) -> None:
        assert missing_glyphs("皖A12345") == ""
        assert missing_glyphs("甲乙A甲") == "甲乙"


class TestSubset:
    """The command that regenerates the font keeps the plate glyphs, and refuses a font without them."""

    def test_subset_of_a_font_with_every_glyph(self, tmp_path: Path) -> None:
        out = tmp_path / "out.ttf"
        subset(BUNDLED_FONT, out)
        assert characters(out) == set(PLATE_GLYPHS)

    def test_font_without_a_glyph_refused_naming_it(self, tmp_path: Path) -> None:
        options = ft_subset.Options()
        source = tmp_path / "abc.ttf"
        with ft_subset.load_font(str(BUNDLED_FONT), options) as small:
            subsetter = ft_subset.Subsetter(options)
            subsetter.populate(text="ABC")
            subsetter.subset(small)
            ft_subset.save_font(small, str(source), options)
        with pytest.raises(ValueError, match="the font has no glyph for") as caught:
            subset(source, tmp_path / "out.ttf")
        assert "皖" in str(caught.value)
        assert not (tmp_path / "out.ttf").exists()

    def test_command_on_a_missing_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main([str(tmp_path / "none.ttc"), "--out", str(tmp_path / "out.ttf")]) == 2
        assert "none.ttc" in capsys.readouterr().err


def without_system_fonts(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine whose fontconfig knows only an empty font folder."""
    empty = tmp_path / "fonts"
    empty.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{empty}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    env.pop("FONTCONFIG_PATH", None)
    env.pop("XDG_DATA_HOME", None)
    return env


@pytest.mark.slow
class TestNoSystemFont:
    """With fontconfig shown an empty font folder, Chinese plates still render and a scenario runs."""

    def test_fontconfig_sees_no_font(self, tmp_path: Path) -> None:
        fc_list = program("fc-list", "fontconfig")
        listed = subprocess.run(
            [fc_list],
            env=without_system_fonts(tmp_path),
            capture_output=True,
            text=True,
            check=True,
        )
        assert listed.stdout.strip() == ""

    def test_renderer_draws_a_chinese_plate(self, tmp_path: Path) -> None:
        script = (
            "from simulators.plate_render import render_plate\n"
            "plate = render_plate('皖A12345', height=70)\n"
            "print(plate.shape, int((plate.min(axis=2) > 200).sum()))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=without_system_fonts(tmp_path),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        shape, white = done.stdout.rsplit(")", 1)
        assert shape == "(70, 220, 3"
        assert int(white) > 0.05 * 70 * 220  # the white characters

    def test_scenario_with_a_chinese_plate_runs(self, tmp_path: Path) -> None:
        done = subprocess.run(
            [*LANEWARDEN, "--log-level", "warning", "sim", "traffic", "--scenario", "tailgate"],
            env=without_system_fonts(tmp_path),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "show_plate plate=沪C8GK31" in done.stdout
        assert "error" not in done.stdout.lower()
