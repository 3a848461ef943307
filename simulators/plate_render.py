"""Licence plates rendered from text, for the camera simulator.

Chinese plates (text starting with a CJK character, e.g. ``皖A12345``) are drawn
as the common blue plate: white characters on blue, a white rim, a dot after the
second character; eight-character (new-energy) plates are green with black
characters. Other plates are black characters on white. The images are clean
and large enough for the plate recogniser to read them.

Plates are drawn with the font shipped in the package
(:data:`simulators.plate_font.BUNDLED_FONT`, the plate glyphs of WenQuanYi
Micro Hei), so no system font is needed; ``font=`` takes any TrueType or
OpenType file instead (a system CJK font, for characters the bundled one lacks).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from simulators.plate_font import BUNDLED_FONT, missing_glyphs

BLUE = (0, 72, 181)
GREEN_TOP = (232, 250, 236)
GREEN_BOTTOM = (70, 200, 110)
WHITE = (245, 245, 245)
BLACK = (12, 12, 12)


class GlyphMissingError(ValueError):
    """The bundled plate font cannot draw a character of the plate."""


def is_chinese(plate: str) -> bool:
    return bool(plate) and "\u4e00" <= plate[0] <= "\u9fff"


def check_font(path: Path) -> None:
    """Check that ``path`` is a font the renderer can use; ValueError naming it when not."""
    try:
        _font(path, 12)
    except OSError as exc:
        raise ValueError(f"font {path}: not a TrueType or OpenType font ({exc})") from None


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _check_glyphs(plate: str) -> None:
    missing = missing_glyphs(plate)
    if missing:
        raise GlyphMissingError(
            f"plate {plate!r}: the bundled plate font has no {', '.join(missing)} (it holds the "
            "province and special-plate characters, A-Z and 0-9); give a font with them "
            "(lanewarden sim camera --font FILE)"
        )


def render_plate(plate: str, height: int = 70, font: Path | None = None) -> npt.NDArray[np.uint8]:
    """The plate as a BGR image ``height`` pixels high (CN plates are 440x140 mm).

    ``font``: a font file to draw with instead of the bundled plate font.
    """
    if not plate or not plate.strip():
        raise ValueError("plate text is empty")
    plate = plate.strip().upper()
    if font is None:
        _check_glyphs(plate)
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
    _draw_fitted(draw, text, font or BUNDLED_FONT, width=width, height=height, ink=ink)
    rgb = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _draw_fitted(
    draw: ImageDraw.ImageDraw,
    text: str,
    font_path: Path,
    *,
    width: int,
    height: int,
    ink: tuple[int, int, int],
) -> None:
    """Draw ``text`` centred, as large as fits in 88 % of the width and 75 % of the height."""
    size = height
    while size > 6:
        font = _font(font_path, size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=1)
        if right - left <= width * 0.88 and bottom - top <= height * 0.75:
            break
        size -= 2
    x = (width - (right - left)) / 2 - left
    y = (height - (bottom - top)) / 2 - top
    draw.text((x, y), text, font=font, fill=ink, stroke_width=1, stroke_fill=ink)
