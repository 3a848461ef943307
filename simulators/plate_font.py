"""The font the camera simulator draws plates with, shipped in the package.

Plates are drawn with a subset of WenQuanYi Micro Hei (Apache-2.0, see
``simulators/fonts/LICENSE-Apache-2.0.txt`` and ``simulators/fonts/README.md``)
holding only :data:`PLATE_GLYPHS`: the 31 province characters, the last
characters of special plates, A–Z, 0–9 and the separators. A machine with no
CJK font at all (a fresh Debian, a container) renders Chinese plates with it.

Regenerate it (fonttools is in the ``dev`` extra) from the Debian package::

    apt-get download fonts-wqy-microhei && dpkg-deb -x fonts-wqy-microhei_*.deb /tmp/wqy
    python -m simulators.plate_font /tmp/wqy/usr/share/fonts/truetype/wqy/wqy-microhei.ttc

(``make plate-font SOURCE=...`` runs the same.)
"""

from __future__ import annotations

import argparse
import string
import sys
from collections.abc import Sequence
from pathlib import Path

from models.grammar import CN_SUFFIXES, PROVINCES

FONTS = Path(__file__).resolve().parent / "fonts"
BUNDLED_FONT = FONTS / "plate-glyphs.ttf"

#: Special-plate characters drawn besides :data:`models.grammar.CN_SUFFIXES`
#: (使: embassy plates start with it).
EXTRA_CJK = "使"
#: Every character the bundled font holds: what :func:`simulators.plate_render.render_plate` draws.
PLATE_GLYPHS = "".join(sorted(PROVINCES | CN_SUFFIXES | set(EXTRA_CJK))) + (
    string.ascii_uppercase + string.digits + " -·"
)


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` the bundled font cannot draw, in order, each once."""
    return "".join(dict.fromkeys(ch for ch in text if ch not in PLATE_GLYPHS))


def subset(source: Path, out: Path, font_number: int = 0) -> None:
    """Write the glyphs of :data:`PLATE_GLYPHS` from ``source`` (TTF, OTF or TTC) to ``out``."""
    from fontTools import subset as ft_subset

    options = ft_subset.Options()
    options.font_number = font_number
    options.layout_features = []  # plates need no ligatures or alternates
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.hinting = False
    options.notdef_outline = True
    options.drop_tables = [*options.drop_tables, "FFTM"]  # a FontForge timestamp
    with ft_subset.load_font(str(source), options) as font:
        subsetter = ft_subset.Subsetter(options)
        subsetter.populate(text=PLATE_GLYPHS)
        subsetter.subset(font)
        cmap = font.getBestCmap()
        lost = "".join(ch for ch in PLATE_GLYPHS if ord(ch) not in cmap)
        if lost:
            raise ValueError(f"{source}: the font has no glyph for {lost!r}")
        out.parent.mkdir(parents=True, exist_ok=True)
        ft_subset.save_font(font, str(out), options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.plate_font",
        description="Write the bundled plate font: the plate glyphs of a CJK font.",
    )
    parser.add_argument("source", type=Path, help="a CJK font (wqy-microhei.ttc)")
    parser.add_argument("--font-number", type=int, default=0, help="face in a .ttc (default 0)")
    parser.add_argument("--out", type=Path, default=BUNDLED_FONT, help="default: the bundled one")
    args = parser.parse_args(argv)
    try:
        subset(args.source, args.out, args.font_number)
    except (OSError, ValueError) as exc:
        print(f"plate font: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(PLATE_GLYPHS)} characters, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
