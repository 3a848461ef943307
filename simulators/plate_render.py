"""Licence plates rendered from text, for the camera simulator.

Chinese plates (text starting with a CJK character, e.g. ``皖A12345``) are drawn
as the common blue plate: white characters on blue, a white rim, a dot after the
second character; eight-character (new-energy) plates are green with black
characters. Other plates are black characters on white. The images are clean
and large enough for the plate recogniser to read them.

Chinese plates need a font with CJK glyphs. :func:`find_cjk_font` asks
fontconfig (``fc-list :lang=zh``) and then looks in the usual font folders;
when none is installed, :class:`CJKFontMissingError` says which Debian package provides
one.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
# File-name fragments of common CJK fonts, best first.
CJK_FONT_NAMES = ("wqy-microhei", "wqy-zenhei", "notosanscjk", "notoserifcjk", "droidsansfallback")
CJK_PACKAGES = "fonts-wqy-microhei or fonts-noto-cjk"

BLUE = (0, 72, 181)
GREEN_TOP = (232, 250, 236)
GREEN_BOTTOM = (70, 200, 110)
WHITE = (245, 245, 245)
BLACK = (12, 12, 12)


class CJKFontMissingError(Exception):
    """No font on this machine can draw the plate's characters."""


def is_chinese(plate: str) -> bool:
    return bool(plate) and "\u4e00" <= plate[0] <= "\u9fff"


def find_cjk_font(fc_list: str | None = None, font_dirs: tuple[Path, ...] = FONT_DIRS) -> Path:
    """A font file with Chinese glyphs, or :class:`CJKFontMissingError` naming the package.

    ``fc_list`` is the fontconfig lister (found on PATH when not given).
    """
    found = _fontconfig_cjk(fc_list or shutil.which("fc-list"))
    if found is not None:
        return found
    for folder in font_dirs:
        if folder.is_dir():
            fonts = [p for p in folder.rglob("*") if p.suffix.lower() in {".ttc", ".ttf", ".otf"}]
            known = [p for p in fonts if _cjk_rank(p) < len(CJK_FONT_NAMES)]
            if known:
                return min(known, key=_cjk_rank)
    raise CJKFontMissingError(
        "no CJK font is installed, so Chinese plates cannot be rendered; install one "
        f"(Debian: apt-get install {CJK_PACKAGES}) or give --images DIR with plate images"
    )


@cache
def _fontconfig_cjk(fc_list: str | None) -> Path | None:
    if fc_list is None:
        return None
    out = subprocess.run(  # noqa: S603 - fixed arguments, path from which()
        [fc_list, ":lang=zh", "file"], capture_output=True, text=True, check=False
    ).stdout
    files = [Path(line.split(":", 1)[0].strip()) for line in out.splitlines() if line.strip()]
    return min(files, key=_cjk_rank) if files else None


def _cjk_rank(path: Path) -> int:
    name = path.name.lower().replace("-", "").replace("_", "")
    for rank, fragment in enumerate(CJK_FONT_NAMES):
        if fragment.replace("-", "") in name:
            return rank
    return len(CJK_FONT_NAMES)


@cache
def _latin_font_path() -> str | None:
    fc_match = shutil.which("fc-match")
    if not fc_match:
        return None
    found = subprocess.run(  # noqa: S603 - fixed arguments, path from which()
        [fc_match, "-f", "%{file}", "sans:bold"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return found or None


def _font(plate: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if is_chinese(plate):
        return ImageFont.truetype(str(find_cjk_font()), size)
    latin = _latin_font_path()
    if latin:
        return ImageFont.truetype(latin, size)
    return ImageFont.load_default(size)


def render_plate(plate: str, height: int = 70) -> npt.NDArray[np.uint8]:
    """The plate as a BGR image ``height`` pixels high (CN plates are 440x140 mm)."""
    if not plate or not plate.strip():
        raise ValueError("plate text is empty")
    plate = plate.strip().upper()
    chinese = is_chinese(plate)
    green = chinese and len(plate) == 8
    width = round(height * (480 / 140 if green else 440 / 140)) if chinese else height * 2
    img = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(img)
    if green:
        for y in range(height):
            t = y / max(height - 1, 1)
            colour = tuple(
                round(a + (b - a) * t) for a, b in zip(GREEN_TOP, GREEN_BOTTOM, strict=True)
            )
            draw.line([(0, y), (width, y)], fill=colour)
        ink = BLACK
    elif chinese:
        draw.rectangle([0, 0, width, height], fill=BLUE)
        rim = max(2, height // 25)
        draw.rounded_rectangle(
            [rim, rim, width - rim - 1, height - rim - 1],
            radius=height // 10,
            outline=WHITE,
            width=rim,
        )
        ink = WHITE
    else:
        rim = max(2, height // 20)
        draw.rectangle([rim, rim, width - rim - 1, height - rim - 1], outline=BLACK, width=rim)
        ink = BLACK
    text = f"{plate[:2]}·{plate[2:]}" if chinese else plate
    _draw_fitted(draw, text, plate, width=width, height=height, ink=ink)
    rgb = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _draw_fitted(
    draw: ImageDraw.ImageDraw,
    text: str,
    plate: str,
    *,
    width: int,
    height: int,
    ink: tuple[int, int, int],
) -> None:
    """Draw ``text`` centred, as large as fits in 88 % of the width and 75 % of the height."""
    size = height
    while size > 6:
        font = _font(plate, size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=1)
        if right - left <= width * 0.88 and bottom - top <= height * 0.75:
            break
        size -= 2
    x = (width - (right - left)) / 2 - left
    y = (height - (bottom - top)) / 2 - top
    draw.text((x, y), text, font=font, fill=ink, stroke_width=1, stroke_fill=ink)
