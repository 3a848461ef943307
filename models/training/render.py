"""Flat synthetic licence plates for training, drawn from text.

Chinese plates follow the GA 36 geometry (440x140 mm, characters 45x90 mm,
12 mm apart, 34 mm between the second and third with the dot in it; green
new-energy plates 480 mm with eight 43 mm characters): blue, yellow, green,
white police (red 警) and black (港, 澳, 领). US plates (12x6 in) carry what
real US crops do around the registration: a state name, a slogan, stickers,
a dealer frame, bolt holes, a faint background picture. EU plates have the
blue band with the stars and a country code; Brazilian plates are the old
grey ``ABC-1234`` or Mercosur ``ABC1D23`` under a blue BRASIL band.

Every plate is drawn at :data:`PX_PER_MM` as an RGB image filling the whole
plate; :mod:`models.training.augment` puts it into a scene. Each glyph is drawn
into its box (condensed to the box's width where wider), so the geometry is
the standard's whatever the font's proportions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from models.training import strings
from models.training.fonts import PlateFonts

Rng = np.random.Generator
RGB = tuple[int, int, int]
PX_PER_MM = 0.7
REGIONS = ("cn", "us", "eu", "br")

STATES = (
    "ALABAMA", "ALASKA", "ARIZONA", "ARKANSAS", "CALIFORNIA", "COLORADO", "CONNECTICUT",
    "DELAWARE", "FLORIDA", "GEORGIA", "HAWAII", "IDAHO", "ILLINOIS", "INDIANA", "IOWA",
    "KANSAS", "KENTUCKY", "LOUISIANA", "MAINE", "MARYLAND", "MASSACHUSETTS", "MICHIGAN",
    "MINNESOTA", "MISSISSIPPI", "MISSOURI", "MONTANA", "NEBRASKA", "NEVADA", "NEW HAMPSHIRE",
    "NEW JERSEY", "NEW MEXICO", "NEW YORK", "NORTH CAROLINA", "NORTH DAKOTA", "OHIO",
    "OKLAHOMA", "OREGON", "PENNSYLVANIA", "RHODE ISLAND", "SOUTH CAROLINA", "SOUTH DAKOTA",
    "TENNESSEE", "TEXAS", "UTAH", "VERMONT", "VIRGINIA", "WASHINGTON", "WEST VIRGINIA",
    "WISCONSIN", "WYOMING",
)  # fmt: skip
SLOGANS = (
    "LAND OF LINCOLN", "THE SUNSHINE STATE", "EMPIRE STATE", "GARDEN STATE",
    "LIVE FREE OR DIE", "GREAT LAKES STATE", "THE LONE STAR STATE", "GRAND CANYON STATE",
    "FIRST IN FLIGHT", "VACATIONLAND", "PEACH STATE", "WILD WONDERFUL", "DRIVE SAFELY",
    "10000 LAKES", "FAMOUS POTATOES", "AMERICA'S DAIRYLAND", "ALOHA STATE", "SHOW ME STATE",
    "DMV.CA.GOV", "BIG SKY COUNTRY", "KEYSTONE STATE", "OCEAN STATE", "THE FIRST STATE",
)  # fmt: skip
DEALERS = ("AUTO MALL", "MOTORS INC", "CITY FORD", "HONDA OF", "TOYOTA", "CHEVROLET", "KIA")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
EU_CODES = ("D", "F", "I", "NL", "PL", "CZ", "E", "B", "A", "SK", "HR", "P", "GB", "S", "DK")
BR_CITIES = (
    "SP - SAO PAULO", "RJ - RIO DE JANEIRO", "MG - BELO HORIZONTE", "PR - CURITIBA",
    "BA-SALVADOR", "BA-LAURO DE FREITAS", "PE-RECIFE", "RS-PORTO ALEGRE", "GO-GOIANIA",
)  # fmt: skip

INK = (15, 15, 15)
WHITE = (240, 240, 240)


@dataclass(frozen=True)
class Plate:
    """A flat plate image (RGB, the whole plate) and its text as labelled."""

    image: npt.NDArray[np.uint8]
    text: str
    region: str
    style: str


@functools.lru_cache(maxsize=64)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


@functools.lru_cache(maxsize=4096)
def _glyph(ch: str, path: Path, height: int) -> Image.Image:
    """The ink of ``ch`` (an L mask cropped to its bounding box), about ``height`` high."""
    font = _font(path, max(8, round(height * 1.25)))
    left, top, right, bottom = (int(v) for v in font.getbbox(ch))
    mask = Image.new("L", (max(1, right - left + 2), max(1, bottom - top + 2)), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), ch, fill=255, font=font)
    box = mask.getbbox()
    return mask.crop(box) if box else mask


class Canvas:
    """A plate being drawn, in millimetres."""

    def __init__(self, width_mm: float, height_mm: float, colour: RGB) -> None:
        self.size = (round(width_mm * PX_PER_MM), round(height_mm * PX_PER_MM))
        self.image = Image.new("RGB", self.size, colour)
        self.draw = ImageDraw.Draw(self.image)

    @staticmethod
    def px(mm: float) -> int:
        return round(mm * PX_PER_MM)

    def glyph(
        self, ch: str, font: Path, box: tuple[float, float, float, float], colour: RGB
    ) -> None:
        """Draw ``ch`` in the box (x, y, w, h mm): full height, at most the box's width."""
        x, y, w, h = (self.px(v) for v in box)
        mask = _glyph(ch, font, max(4, h))
        natural = mask.width * h / max(1, mask.height)
        width = max(1, min(w, round(natural)))
        mask = mask.resize((width, max(1, h)), Image.Resampling.BILINEAR)
        self.image.paste(colour, (x + (w - width) // 2, y), mask)

    def line(
        self, text: str, font: Path, box: tuple[float, float, float, float], colour: RGB, gap: float
    ) -> None:
        """Draw ``text`` centred in the box, each glyph full height, condensed to fit."""
        x, y, w, h = box
        masks = [_glyph(ch, font, max(4, self.px(h))) for ch in text]
        widths = [
            h * 0.3 if ch in " -·" else m.width * h / max(1, m.height)
            for ch, m in zip(text, masks, strict=True)
        ]
        total = sum(widths) + gap * (len(text) - 1)
        squeeze = min(1.0, w / max(total, 1e-6))
        cursor = x + (w - total * squeeze) / 2
        for ch, width in zip(text, widths, strict=True):
            if ch == "-":  # a short bar at mid height (no label carries it)
                self.rect((cursor, y + h * 0.46, width * squeeze, h * 0.08), colour)
            elif ch == "·":  # Brazilian plates' dot
                self.dot((cursor + width * squeeze / 2, y + h / 2), h * 0.1, colour)
            elif ch != " ":
                self.glyph(ch, font, (cursor, y, width * squeeze, h), colour)
            cursor += (width + gap) * squeeze

    def text(
        self,
        text: str,
        font: Path,
        where: tuple[float, float, float],
        colour: RGB,
        max_width: float,
    ) -> None:
        """Small text (state names, slogans) centred on ``where`` (x, y, height), fitted to ``max_width``."""
        cx_mm, cy_mm, height = where
        size = max(6, self.px(height) + 2)
        face = _font(font, size)
        width = face.getlength(text)
        if width > self.px(max_width):
            size = max(6, int(size * self.px(max_width) / width))
            face = _font(font, size)
        cx, cy = self.px(cx_mm), self.px(cy_mm)
        self.draw.text((cx, cy), text, fill=colour, font=face, anchor="mm")

    def rect(
        self, box: tuple[float, float, float, float], colour: RGB, width_mm: float = 0.0
    ) -> None:
        x, y, w, h = (self.px(v) for v in box)
        if width_mm:
            self.draw.rectangle(
                (x, y, x + w, y + h), outline=colour, width=max(1, self.px(width_mm))
            )
        else:
            self.draw.rectangle((x, y, x + w, y + h), fill=colour)

    def dot(self, centre: tuple[float, float], diameter: float, colour: RGB) -> None:
        cx, cy, r = self.px(centre[0]), self.px(centre[1]), max(1, self.px(diameter / 2))
        self.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)

    def array(self) -> npt.NDArray[np.uint8]:
        return np.asarray(self.image, dtype=np.uint8).copy()


def _vary(rng: Rng, colour: RGB, spread: int = 18) -> RGB:
    r, g, b = (int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in colour)
    return (r, g, b)


def _choice(rng: Rng, items: tuple[str, ...]) -> str:
    return items[int(rng.integers(len(items)))]


def _path(rng: Rng, paths: tuple[Path, ...]) -> Path:
    return paths[int(rng.integers(len(paths)))]


# --- China (GA 36) -------------------------------------------------------------------

CN_STYLES = {
    # style: background, ink, rim
    "blue": ((10, 70, 180), WHITE, WHITE),
    "yellow": ((240, 185, 20), INK, INK),
    "police": (WHITE, INK, INK),
    "black": ((15, 15, 15), WHITE, WHITE),
}


def _cn_positions(count: int) -> tuple[float, list[float], float]:
    """Character width and left edges, and the dot's x, for 7 (440 mm) or 8 (480 mm) characters."""
    if count == 8:
        width, step, gap, margin = 43.0, 52.0, 51.0, 15.5
    else:
        width, step, gap, margin = 45.0, 57.0, 34.0, 15.5
    lefts = [margin, margin + step]
    third = margin + step + width + gap
    lefts += [third + i * step for i in range(count - 2)]
    return width, lefts, margin + step + width + gap / 2


def cn_plate(rng: Rng, fonts: PlateFonts, pool: strings.ChineseStrings) -> Plate:
    roll = rng.random()
    if roll < 0.55:
        style, text = "blue", pool.blue(rng)
    elif roll < 0.75:
        style, text = "green", pool.green(rng)
    elif roll < 0.87:
        style = "yellow"
        text = (
            pool.suffixed(rng, _choice(rng, ("学", "挂"))) if rng.random() < 0.3 else pool.blue(rng)
        )
    elif roll < 0.94:
        style, text = "police", pool.suffixed(rng, "警")
    else:
        style, text = "black", pool.suffixed(rng, _choice(rng, ("港", "澳", "领")))
    width_mm = 480.0 if len(text) == 8 else 440.0
    if style == "green":
        canvas = Canvas(width_mm, 140, WHITE)
        top, bottom = (
            np.array(_vary(rng, (235, 250, 238), 10)),
            np.array(_vary(rng, (60, 190, 100), 20)),
        )
        shade = np.linspace(0.0, 1.0, canvas.size[1])[:, None, None]
        rows = (top * (1 - shade) + bottom * shade).astype(np.uint8)
        canvas.image = Image.fromarray(np.repeat(rows, canvas.size[0], axis=1))
        canvas.draw = ImageDraw.Draw(canvas.image)
        ink, rim = INK, INK
    else:
        bg, ink, rim = CN_STYLES[style]
        canvas = Canvas(width_mm, 140, _vary(rng, bg))
        ink = _vary(rng, ink, 10)
    canvas.rect((3, 3, width_mm - 6, 134), rim, width_mm=1.5)
    char_w, lefts, dot_x = _cn_positions(len(text))
    latin = _path(rng, fonts.din)
    cjk = _path(rng, fonts.cjk)
    for i, (ch, left) in enumerate(zip(text, lefts, strict=True)):
        colour = (200, 25, 25) if style == "police" and ch == "警" else ink
        font = latin if ch.isascii() else cjk
        canvas.glyph(ch, font, (left, 25, char_w, 90), colour)
        if i == 1:
            canvas.dot((dot_x, 70), 10, colour)
    if rng.random() < 0.5:  # rivets
        for x in (width_mm * 0.2, width_mm * 0.8):
            canvas.dot((x, 12), 7, _vary(rng, (150, 150, 150), 40))
    return Plate(canvas.array(), text, "cn", style)


# --- United States --------------------------------------------------------------------

US_BACKGROUNDS = (
    (240, 240, 238),
    (225, 235, 250),
    (250, 240, 200),
    (240, 225, 225),
    (230, 245, 230),
)
US_INKS = ((20, 30, 110), (15, 15, 15), (120, 20, 30), (20, 90, 40), (30, 60, 160))


def us_plate(rng: Rng, fonts: PlateFonts) -> Plate:
    text = strings.us(rng)
    canvas = Canvas(
        305, 152, _vary(rng, US_BACKGROUNDS[int(rng.integers(len(US_BACKGROUNDS)))], 12)
    )
    if rng.random() < 0.25:  # a coloured gradient (sunsets, skies)
        sky = np.array(_vary(rng, (250, 200, 120), 60)), np.array(_vary(rng, (120, 170, 230), 60))
        shade = np.linspace(0.0, 1.0, canvas.size[1])[:, None, None]
        rows = (sky[0] * (1 - shade) + sky[1] * shade).astype(np.uint8)
        canvas.image.paste(Image.fromarray(np.repeat(rows, canvas.size[0], axis=1)))
    if rng.random() < 0.5:  # a faint picture behind the registration
        colour = _vary(rng, (200, 215, 235), 30)
        if rng.random() < 0.5:
            canvas.dot((rng.uniform(60, 250), rng.uniform(50, 110)), rng.uniform(40, 110), colour)
        else:
            peaks = [
                (0, 152),
                *((x, rng.uniform(70, 130)) for x in np.linspace(0, 305, 6)),
                (305, 152),
            ]
            canvas.draw.polygon([(canvas.px(x), canvas.px(y)) for x, y in peaks], fill=colour)
    ink = _vary(rng, US_INKS[int(rng.integers(len(US_INKS)))], 15)
    small = _path(rng, fonts.small)
    state = _choice(rng, STATES)
    canvas.text(
        state.title() if rng.random() < 0.4 else state,
        small,
        (152, 20, rng.uniform(14, 24)),
        _vary(rng, ink, 40),
        230,
    )
    height = rng.uniform(55, 82)
    top = 78 - height / 2 + rng.uniform(-4, 4)
    font = _path(rng, fonts.us)
    shown = text
    if len(text) >= 5 and rng.random() < 0.3:  # a dash or a gap between groups
        cut = int(rng.integers(2, len(text) - 1))
        shown = text[:cut] + (" " if rng.random() < 0.6 else "-") + text[cut:]
    canvas.line(shown, font, (14, top, 277, height), ink, gap=rng.uniform(2, 7))
    if " " in shown and rng.random() < 0.6:  # a state emblem between the groups
        gap_x = 14 + 277 * (shown.index(" ") + 0.5) / len(shown)
        colour = _vary(
            rng,
            ((200, 90, 40), (180, 30, 30), (40, 90, 170), (230, 200, 40))[int(rng.integers(4))],
            30,
        )
        canvas.dot((gap_x, top + height / 2), rng.uniform(12, 30), colour)
    if rng.random() < 0.8:
        canvas.text(
            _choice(rng, SLOGANS), small, (152, 136, rng.uniform(9, 15)), _vary(rng, ink, 40), 220
        )
    for corner in ((12, 8), (248, 8)):
        if rng.random() < 0.45:  # registration stickers
            colour = _vary(
                rng,
                ((230, 200, 20), (200, 40, 40), (40, 120, 200), (40, 160, 60))[
                    int(rng.integers(4))
                ],
                20,
            )
            canvas.rect((corner[0], corner[1], 45, 24), colour)
            label = _choice(rng, MONTHS) if rng.random() < 0.5 else f"{int(rng.integers(20, 30))}"
            canvas.text(label, small, (corner[0] + 22, corner[1] + 12, 14), INK, 40)
    for x in (63.5, 241.5):
        if rng.random() < 0.6:
            canvas.dot((x, 14 if rng.random() < 0.5 else 138), 8, _vary(rng, (120, 120, 120), 50))
    if rng.random() < 0.45:  # a dealer frame over the rim and the slogan
        frame = _vary(rng, (25, 25, 25), 25)
        side = rng.uniform(5, 10)
        canvas.rect((0, 0, 305, side), frame)
        canvas.rect((0, 0, side, 152), frame)
        canvas.rect((305 - side, 0, side, 152), frame)
        bottom = rng.uniform(12, 20)
        canvas.rect((0, 152 - bottom, 305, bottom), frame)
        canvas.text(
            _choice(rng, DEALERS),
            small,
            (152, 152 - bottom / 2, bottom * 0.6),
            (220, 220, 220),
            200,
        )
    return Plate(canvas.array(), text, "us", "us")


# --- Europe ---------------------------------------------------------------------------


def eu_plate(rng: Rng, fonts: PlateFonts) -> Plate:
    text = strings.eu(rng)
    yellow = rng.random() < 0.15
    canvas = Canvas(520, 110, _vary(rng, (245, 200, 30) if yellow else WHITE, 12))
    canvas.rect((0, 0, 42, 110), _vary(rng, (0, 51, 153), 15))
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        canvas.dot((21 + 12 * np.cos(angle), 35 + 12 * np.sin(angle)), 3.5, (255, 204, 0))
    canvas.text(_choice(rng, EU_CODES), _path(rng, fonts.small), (21, 82, 24), WHITE, 36)
    canvas.rect((1, 1, 517, 107), INK, width_mm=1.5)
    groups = [text[:2], text[2:]] if text[:2].isalpha() else [text[:1], text[1:]]
    if rng.random() < 0.5:
        groups = [text]
    shown = (" " if rng.random() < 0.6 else "-").join(groups)
    canvas.line(shown, _path(rng, fonts.din), (52, 17, 460, 76), INK, gap=rng.uniform(3, 8))
    if " " in shown and rng.random() < 0.5:  # a national or city emblem between the groups
        x = 52 + 460 * (shown.index(" ") + 0.5) / len(shown)
        canvas.rect((x - 7, 30, 14, 20), _vary(rng, (200, 40, 40), 40))
        canvas.rect((x - 7, 50, 14, 12), _vary(rng, (40, 80, 180), 40))
    return Plate(canvas.array(), text, "eu", "eu_yellow" if yellow else "eu")


# --- Brazil ---------------------------------------------------------------------------


def br_plate(rng: Rng, fonts: PlateFonts) -> Plate:
    mercosur = rng.random() < 0.35
    text = strings.br(rng, mercosur)
    if mercosur:
        canvas = Canvas(400, 130, _vary(rng, WHITE, 10))
        canvas.rect((0, 0, 400, 28), _vary(rng, (0, 60, 150), 15))
        canvas.text("BRASIL", _path(rng, fonts.small), (200, 14, 16), WHITE, 120)
        canvas.rect((360, 6, 26, 16), (40, 150, 60))
        canvas.rect((2, 2, 396, 126), INK, width_mm=2)
        canvas.line(text, _path(rng, fonts.din), (20, 40, 360, 76), INK, gap=rng.uniform(3, 7))
        style = "br_mercosur"
    else:
        canvas = Canvas(400, 130, _vary(rng, (200, 200, 196), 35))
        canvas.rect((2, 2, 396, 126), _vary(rng, (60, 60, 60), 30), width_mm=2.5)
        canvas.text(_choice(rng, BR_CITIES), _path(rng, fonts.small), (200, 17, 16), INK, 300)
        if rng.random() < 0.4:  # the city's emblem left of its name
            canvas.dot((60, 17), 14, _vary(rng, (170, 30, 30), 40))
        canvas.line(
            text[:3] + ("·" if rng.random() < 0.6 else "-") + text[3:],
            _path(rng, fonts.din),
            (18, 34, 364, 80),
            INK,
            gap=rng.uniform(3, 7),
        )
        style = "br_grey"
    return Plate(canvas.array(), text, "br", style)


#: Share of each region among synthetic plates.
REGION_SHARES = {"cn": 0.45, "us": 0.3, "eu": 0.12, "br": 0.13}


class Renderer:
    """Draws plates of every region with ``fonts``, Chinese strings from ``pool``."""

    def __init__(self, fonts: PlateFonts, pool: strings.ChineseStrings) -> None:
        self.fonts = fonts
        self.pool = pool
        self._draw: dict[str, Callable[[Rng], Plate]] = {
            "cn": lambda rng: cn_plate(rng, fonts, pool),
            "us": lambda rng: us_plate(rng, fonts),
            "eu": lambda rng: eu_plate(rng, fonts),
            "br": lambda rng: br_plate(rng, fonts),
        }

    def plate(self, rng: Rng, region: str | None = None) -> Plate:
        """One plate of ``region``, or of a region drawn by :data:`REGION_SHARES`."""
        if region is None:
            names = list(REGION_SHARES)
            region = names[int(rng.choice(len(names), p=list(REGION_SHARES.values())))]
        if region not in self._draw:
            raise ValueError(f"no plate style for region {region!r}; regions: {', '.join(REGIONS)}")
        return self._draw[region](rng)
