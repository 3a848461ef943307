"""What the plate reader does only for Chinese plates.

A Chinese plate's province glyph is small and the recogniser barely resolves it
at plate scale, so an unsure province is read again from the plate's left part
alone (its evidence then weighs the province slot, see
:mod:`models.regions.cn_province`). The plate's coloured background (blue,
yellow, green) gives its own edges where the detector's box runs along the
characters, tells a yellow plate from a blue one and says how many characters
it carries. Tall crops hold two-row plates.
"""

from __future__ import annotations

import numpy as np

from models.candidates import Line, Scored
from models.colour import background, plate_corners
from models.grammar import PROVINCES
from models.recognise import Image, Recogniser, line_width, split_rows
from models.rectify import warp
from models.regions.cn_province import province_peaks
from models.rerank import Reading
from models.result import Quad

#: Share of a Chinese plate's width holding the province and the city letter.
PROVINCE_SHARE_OF_WIDTH = 0.32
#: Rows of a Chinese plate's coloured background that hold its characters
#: (90 mm characters, 20 mm of background above and below them) ...
CHARACTER_ROWS = (0.15, 0.85)
#: ... and the rows read as its line, with some background as margin.
PLATE_ROWS = (0.1, 0.9)
#: Chinese plate colours that carry seven characters (green ones carry eight).
SEVEN_CHARACTER_COLOURS = frozenset({"blue", "yellow"})
#: A Chinese line whose own read puts this much probability on the province
#: it reads is sure of it, and its left part is not read apart (that read,
#: two views, costs a crop 40 % more time). On the LPRNet crops the line and
#: its left part never disagreed when the line put more than 0.43 on a
#: province; at 0.8 three crops in five are sure.
PROVINCE_SURE = 0.8


def crop_lines(image: Image, whole: Quad) -> list[Line]:
    """Lines to read from a plate crop: the padded plate, plus its two rows when it is tall."""
    h, w = image.shape[:2]
    lines = [Line(_pad(image), whole, h)]
    if w / h < 2.5:
        lines.append(Line(image, whole, h, two_rows=True))
    return lines


def has_seven_characters(line: Line) -> bool:
    """Whether the plate's colour says it carries seven characters (blue and yellow ones)."""
    return background(line.image) in SEVEN_CHARACTER_COLOURS


def plate_type(reading: Reading, line: Line) -> str:
    """The reading's plate type, a blue-plate layout on a yellow background being ``cn_yellow``."""
    if reading.plate_type == "cn_blue" and background(line.image) == "yellow":
        return "cn_yellow"
    return reading.plate_type


def starts_with_province(reading: Reading) -> bool:
    return reading.in_grammar and reading.text[:1] in PROVINCES


def province_sure(scored: Scored) -> bool:
    """Whether ``scored`` needs no separate read of its province: it has none
    (outside China, off the grammar), or its own read puts at least
    ``PROVINCE_SURE`` on the province it reads."""
    reading = scored.reading
    if not starts_with_province(reading):
        return True
    peaks = province_peaks(scored.folded)
    top = max(peaks, key=lambda p: peaks[p])
    return top == reading.text[0] and peaks[top] >= PROVINCE_SURE


def province_part(line: Line) -> Image:
    """The left part of a Chinese plate: its province character and city letter.

    In a scene the line's cut is the detector's box around the characters; the
    plate's coloured background, where it shows, gives the plate's own edges,
    and the part is cut from the plate rectified to them, to the rows of its
    characters. On the LPRNet crops pasted into the CCPD frames at an angle
    (``lanewarden plates scenes``, seeds 0 and 1) exact went from 0.872 and
    0.892 to 0.908 and 0.908, coverage from 0.54 and 0.55 to 0.69 and 0.66;
    one accepted read was wrong (a D read as 0, which the unsure province had
    kept back before).
    """
    image = line.image
    if line.two_rows:
        image = split_rows(image, 0.4)[0]
    elif line.scene and (plate := plate_rows(image, CHARACTER_ROWS)) is not None:
        image = plate
    return image[:, : max(2, int(image.shape[1] * PROVINCE_SHARE_OF_WIDTH))]


def plate_rows(image: Image, rows: tuple[float, float] = PLATE_ROWS) -> Image | None:
    """The plate in a line's cut, rectified to its coloured background and cut
    to ``rows`` (shares of its height); None where no plate colour shows."""
    corners = plate_corners(image)
    if corners is None:
        return None
    plate = warp(image, corners)
    top, bottom = (round(plate.shape[0] * share) for share in rows)
    return plate[top : max(bottom, top + 2)]


def province_evidence(
    recogniser: Recogniser, alphabet: tuple[str, ...], parts: list[Image]
) -> dict[str, float]:
    """Province probabilities from reading the plate's left part alone.

    At full-plate scale the recogniser barely sees the province character;
    read on its own with the city letter it is far clearer. With several
    cuts of one plate (``parts``, the left part of each), their peak
    probabilities are averaged.
    """
    views = [view for part in parts for view in _province_views(part)]
    widths = [line_width(view, minimum=16) for view in views]
    outputs = [o.probs for o in recogniser.read(views, widths)]
    peaks = [province_peaks(recogniser.vocabulary.fold(p, alphabet)) for p in outputs]
    return {p: float(np.mean([peak[p] for peak in peaks])) for p in peaks[0]}


def _province_views(left: Image) -> list[Image]:
    """The province part as is and in grey: the two views err on different
    plates (colour casts mislead the recogniser), so their evidence is averaged."""
    import cv2

    grey = cv2.cvtColor(cv2.cvtColor(left, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return [left, np.asarray(grey, dtype=np.uint8)]


def _pad(image: Image) -> Image:
    """A small replicated border: the recogniser reads edge characters better with margin."""
    import cv2

    h = image.shape[0]
    m = max(1, h // 8)
    return np.asarray(cv2.copyMakeBorder(image, m, m, 2 * m, 2 * m, cv2.BORDER_REPLICATE))
