"""What the plate reader's steps pass between them: a line cut from a frame, and its best reading."""

from __future__ import annotations

from dataclasses import dataclass

from models.ctc import Folded
from models.recognise import Image
from models.rectify import Points
from models.rerank import Reading
from models.result import Quad


@dataclass(frozen=True)
class Line:
    """One line image to read, and where it came from in the frame."""

    image: Image
    quad: Quad | None
    #: Height of the line in frame pixels: the plate's characters are usually
    #: the largest text around it (dealer names, stickers, slogans are smaller).
    height: float
    two_rows: bool = False
    #: Cut from a scene (a full frame), where other text competes with the plate.
    scene: bool = False
    #: The detector's corners in the frame, before any margin (scene lines only).
    corners: Points | None = None


@dataclass(frozen=True)
class Scored:
    """A line's best reading and how confident the reader is of it."""

    reading: Reading
    confidence: float
    line: Line
    #: Confidence without the province character: whether a sharper look at
    #: the frame could help (a small province glyph stays unsure at any size).
    found: float
    #: The text has a digit, or the region's plates need none: a line of words
    #: (a rental company's name on a truck, a state's name) never outranks one
    #: that can be a registration, however large it is printed.
    has_digit: bool
    #: The line's probabilities, kept to score it again with province evidence.
    folded: Folded
