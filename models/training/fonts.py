"""Fonts for rendering training plates, from Debian packages with free licences.

Training renders with the fonts of these packages (``apt-get install`` them;
the README's training section lists them). :meth:`PlateFonts.single` draws
everything with one font instead: the tests use the 15 KB plate-glyph subset
of WenQuanYi Micro Hei that the camera simulator bundles, so they need no
system font.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FONT_ROOT = Path("/usr/share/fonts")
#: Debian package of each font file (for the error naming what to install).
CJK = (("fonts-wqy-microhei", "truetype/wqy/wqy-microhei.ttc"),)
DIN = (("fonts-opendin", "truetype/opendin/OSP-DIN.ttf"),)
US = (
    ("fonts-bebas-neue", "opentype/bebas-neue/BebasNeue-Regular.otf"),
    ("fonts-bebas-neue", "opentype/bebas-neue/BebasNeue-Bold.otf"),
    ("fonts-roboto-unhinted", "truetype/roboto/unhinted/RobotoCondensed-Regular.ttf"),
    ("fonts-roboto-unhinted", "truetype/roboto/unhinted/RobotoCondensed-Bold.ttf"),
    ("fonts-roboto-unhinted", "truetype/roboto/unhinted/RobotoCondensed-Medium.ttf"),
    ("fonts-liberation", "truetype/liberation/LiberationSansNarrow-Regular.ttf"),
    ("fonts-liberation", "truetype/liberation/LiberationSansNarrow-Bold.ttf"),
)
#: Text around US registrations (state names, slogans, dealer frames).
SMALL = (
    ("fonts-liberation", "truetype/liberation/LiberationSans-Bold.ttf"),
    ("fonts-liberation", "truetype/liberation/LiberationSerif-Bold.ttf"),
    ("fonts-roboto-unhinted", "truetype/roboto/unhinted/RobotoCondensed-Bold.ttf"),
)
PACKAGES = tuple(sorted({pkg for group in (CJK, DIN, US, SMALL) for pkg, _ in group}))


class FontError(RuntimeError):
    """A font group the renderer needs has no installed file."""


@dataclass(frozen=True)
class PlateFonts:
    """Font files per use: CJK glyphs, DIN-like plate letters, US plate letters, small text."""

    cjk: tuple[Path, ...]
    din: tuple[Path, ...]
    us: tuple[Path, ...]
    small: tuple[Path, ...]

    @classmethod
    def single(cls, path: Path) -> PlateFonts:
        """Every use drawn with one font (one that holds CJK, A-Z and 0-9)."""
        if not path.is_file():
            raise FontError(f"font file not found: {path}")
        return cls((path,), (path,), (path,), (path,))

    @classmethod
    def system(cls, root: Path = FONT_ROOT) -> PlateFonts:
        """The Debian fonts under ``root``; FontError naming the packages when a group has none."""
        groups = [_installed(root, group) for group in (CJK, DIN, US, SMALL)]
        missing = [
            pkg
            for group, found in zip((CJK, DIN, US, SMALL), groups, strict=True)
            if not found
            for pkg, _ in group
        ]
        if missing:
            raise FontError(
                f"no font installed under {root} for some plate styles; "
                f"apt-get install {' '.join(sorted(set(missing)))}"
            )
        return cls(*groups)


def _installed(root: Path, group: Sequence[tuple[str, str]]) -> tuple[Path, ...]:
    return tuple(root / rel for _, rel in group if (root / rel).is_file())
