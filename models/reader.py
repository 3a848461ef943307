"""The plate reader: frames of one vehicle in, one ``PlateResult`` out.

Stages, each in its own module: :mod:`models.locate` finds candidate regions
in a frame, :mod:`models.rectify` cuts them out upright, :mod:`models.recognise`
turns a line into per-timestep probabilities, :mod:`models.rerank` applies the
region's grammar (:mod:`models.grammar`) through a constrained CTC decode
(:mod:`models.ctc`), and :mod:`models.vote` fuses the frames. This module runs
them; :mod:`models.scoring` weighs the reads, and what only Chinese plates need
(their province glyph, coloured background and two rows) is in
:mod:`models.regions.cn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.band import strip_left_band
from models.candidates import Line, Scored
from models.config import RecognitionConfig
from models.ctc import Folded
from models.grammar import grammar_for
from models.image import equalise, to_bgr8
from models.locate import Locator
from models.recognise import Image, Recogniser, line_width, split_rows
from models.rectify import Points, area, as_quad, bounds, expand, order_corners, shared_area, warp
from models.regions import cn
from models.regions.cn_province import province_peaks
from models.rerank import alphabet_for, margin_factor, rank
from models.result import PlateResult, unreadable
from models.runtime import DET_MODEL, REC_MODEL, model_dir
from models.scoring import OFF_GRAMMAR_FACTOR, extends, has_digit, plate_likeness, rank_key
from models.vote import fuse

#: Margins (share of width, share of height, each side) of the cuts of a
#: detected line: the default first, then tighter and looser ones. The
#: horizontal margin stays the same so the cuts' timesteps line up.
MARGINS = ((0.02, 0.08), (0.02, 0.03), (0.02, 0.16))
#: How far past each end of an accepted line (in characters of its text) a
#: second cut looks for characters the detector's box left out.
WIDER_CHARS = 0.7
#: Horizontal bands of a crop, as shares of its height: crops outside China
#: may hold more than the registration (US crops carry state names and
#: slogans). The first is read always, the others when it is not confident.
BANDS = ((0.15, 0.85), (0.0, 1.0), (0.25, 0.95))
#: Lines cut from a scene are read this much wider than their aspect: plates
#: seen from afar are small, and at their own aspect a 7-character line gets
#: only 10 to 15 recogniser timesteps, too few to keep look-alike characters
#: apart (measured on the full-frame sets: any stretch from 1.15 to 1.5 read
#: more plates right and more of them confidently; crops read worse wider).
SCENE_STRETCH = 1.25


class Models:
    """The ONNX sessions, loaded once and shared by every reader in the process."""

    def __init__(self, threads: int, folder: Path | None = None) -> None:
        folder = folder if folder is not None else model_dir()
        self.recogniser = Recogniser(folder / REC_MODEL, threads)
        self.locator = Locator(folder / DET_MODEL, threads)


class PlateReader:
    """Reads plates for one lane configuration."""

    def __init__(self, config: RecognitionConfig, models: Models | None = None) -> None:
        self.config = config
        self.models = models if models is not None else Models(config.threads)
        self.grammar = grammar_for(config.region)
        self.alphabet = alphabet_for(self.grammar)
        #: A read this long cannot have been cut short (see ``_look_wider``).
        self._longest = max(len(t.slots) for t in self.grammar.templates)

    def with_config(self, config: RecognitionConfig) -> PlateReader:
        """A reader for another configuration sharing this one's model sessions."""
        return PlateReader(config, self.models)

    def read(
        self, frames: Sequence[npt.NDArray[np.generic]], *, crops: bool = False
    ) -> PlateResult:
        """The plate of one vehicle from its frames (full frames, or plate crops)."""
        reads = [self.read_one(f, crop=crops) for f in frames]
        return fuse(reads, self.config.threshold, self.config.region)

    def read_one(self, frame: npt.NDArray[np.generic], *, crop: bool = False) -> PlateResult:
        """One frame (or one plate crop) read on its own."""
        image = to_bgr8(frame)
        if crop:
            best = self._best(self._crop_lines(image))
            if best is None or best.confidence < self.config.threshold:
                more = self._best(self._crop_lines(image, fallback=True))
                if best is None or (more is not None and rank_key(more) > rank_key(best)):
                    best = more
        else:
            cfg = self.config
            sides = [cfg.detector_max_side]
            if cfg.detector_retry_side > cfg.detector_max_side:
                sides.append(cfg.detector_retry_side)
            best = self._find(image, sides)
            if best is not None and best.confidence < cfg.threshold:
                best = self._refine(image, best)
            if best is None or best.found < cfg.detector_retry_below:
                best = self._look_clearer(image, best)
            if best is None:
                return unreadable(cfg.region, "no plate found in the frame")
            if best.confidence >= cfg.threshold:
                best = self._look_wider(image, best)
        if best is None:
            return unreadable(self.config.region, "no characters read")
        return self._result(best)

    def _find(
        self, image: Image, sides: Sequence[int], seen: Points | None = None
    ) -> Scored | None:
        """The line of a full frame most likely to be its plate.

        The detector looks at the frame downscaled to each of ``sides`` in
        turn until a line is found with confidence; lines at ``seen`` (already
        read) are left out.
        """
        best: Scored | None = None
        for side in sides:
            if best is not None and best.found >= self.config.detector_retry_below:
                break
            lines = self._frame_lines(image, side)
            if seen is not None:
                lines = [line for line in lines if not _same_place(line.corners, seen)]
            found = self._best(lines)
            if best is None or (found is not None and rank_key(found) > rank_key(best)):
                best = found
        return best

    def _look_clearer(self, image: Image, best: Scored | None) -> Scored | None:
        """``best``, or a more confident line found with the frame's local contrast raised.

        A faint plate (dusk, glare, a grimy plate) may not be found at all;
        with local contrast raised it often is. Only lines the first look did
        not read are read, and only one ranked above ``best`` is refined.
        """
        clearer = equalise(image)
        seen = best.line.corners if best is not None else None
        retry = self._find(clearer, [self.config.detector_max_side], seen)
        if retry is None or (best is not None and rank_key(retry) <= rank_key(best)):
            return best
        if retry.confidence < self.config.threshold:
            retry = self._refine(clearer, retry)
        return retry if best is None or retry.confidence > best.confidence else best

    def _crop_lines(self, image: Image, *, fallback: bool = False) -> list[Line]:
        """Lines to read from a plate crop: the padded plate (China, plus its two
        rows when it is tall), or horizontal bands of it (elsewhere); with
        ``fallback``, the further bands (none in China)."""
        h, w = image.shape[:2]
        whole = as_quad(np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32))
        if self.config.region != "cn":
            bands = BANDS[1:] if fallback else BANDS[:1]
            return [Line(image[int(h * a) : int(h * b)], whole, h) for a, b in bands]
        return [] if fallback else cn.crop_lines(image, whole)

    def _frame_lines(self, image: Image, max_side: int) -> list[Line]:
        cfg = self.config
        candidates = self.models.locator.find(
            image, max_side, cfg.roi, cfg.max_candidates, cfg.detector_min_score
        )
        lines = []
        for cand in candidates:
            corners = order_corners(cand.quad)
            quad = expand(corners, *MARGINS[0])
            lines.append(
                Line(
                    self._cut(image, quad), as_quad(quad), cand.size[1], scene=True, corners=corners
                )
            )
        return lines

    def _cut(self, image: Image, quad: Points) -> Image:
        plate = warp(image, quad)
        return strip_left_band(plate) if self.config.region == "eu" else plate

    def _refine(self, image: Image, best: Scored) -> Scored:
        """Re-read the chosen line, as found and as a closer look finds it.

        The detector ran on a downscaled frame, so its box is rough and may
        miss an edge character; ``Locator.look_closer`` boxes the line again
        in an enlarged window. Each box is read from cuts with several
        margins, and the most confident of these reads wins. A re-read of the
        found box that clears the threshold is taken as it is: the closer look
        costs more than the first read, and a lane reading a vehicle's frames
        one after another cannot spare that for a plate already accepted.
        """
        corners = best.line.corners
        if corners is None:
            return best
        refined = self._read_cuts(image, best.line, corners) or best
        if refined.confidence >= self.config.threshold:
            return refined
        for closer in self.models.locator.look_closer(image, corners):
            other = self._read_cuts(image, best.line, closer)
            if other is not None and other.confidence > refined.confidence:
                refined = other
        if self.config.region == "cn" and refined.confidence < self.config.threshold:
            refined = self._read_plate(refined)
        return refined

    def _read_plate(self, best: Scored) -> Scored:
        """``best``, or the read of its plate cut to the plate's coloured
        background when that read is more confident.

        On a Chinese plate seen at an angle the detector's box runs along the
        characters, tilted or sheared against the plate; its coloured
        background shows the plate's own edges. On the scenes of
        ``_province_part`` exact went on to 0.912 and 0.928, coverage to 0.73
        and 0.74, with no more accepted reads wrong.
        """
        plate = cn.plate_rows(best.line.image)
        if plate is None:
            return best
        line = replace(best.line, image=plate)
        (folded,) = self._recognise([line])
        read = self._score(line, folded)
        if read is None:
            return best
        read = self._with_province(read)
        return read if read.confidence > best.confidence else best

    def _look_wider(self, image: Image, best: Scored) -> Scored:
        """``best``, or the read of a wider cut when that shows ``best`` was cut short.

        The detector's box may end inside the plate and leave out an edge
        character while the rest reads confidently (``NW2529`` for
        ``ANW2529``). The line is read once more from a cut a little wider than
        a character each side. When that read holds ``best``'s text plus
        characters read at least as confidently as the threshold, the plate
        goes on past the box, and the wider read is the answer (accepted or
        not on its own confidence). Bolts, frame edges and emblems beside a
        plate read as weak characters (``YBW231`` for ``YBW23``), and a wider
        read that differs otherwise is not evidence of a cut: both leave
        ``best`` as it is.
        """
        corners = best.line.corners
        text = best.reading.text
        if corners is None or len(text) >= self._longest:
            return best
        if self.config.region == "cn" and cn.has_seven_characters(best.line):
            return best  # blue and yellow plates have seven characters: the read is all of it
        quad = expand(corners, WIDER_CHARS / len(text), MARGINS[0][1])
        line = replace(best.line, image=self._cut(image, quad), quad=as_quad(quad))
        (folded,) = self._recognise([line])
        wide = self._score(line, folded)
        if wide is None or not extends(wide.reading, text, self.config.threshold):
            return best
        return wide

    def _read_cuts(self, image: Image, line: Line, corners: Points) -> Scored | None:
        """The line at ``corners`` read from cuts with several margins that vote.

        Each cut is read on its own, and once more with the cuts'
        probabilities averaged (which steadies weak characters), and the reads
        vote. In China the cuts' province parts are read too when the vote's
        winner is unsure of its province (see ``_province_sure``).
        """
        quads = [expand(corners, gx, gy) for gx, gy in MARGINS]
        cuts = [self._cut(image, q) for q in quads]
        line = replace(line, image=cuts[0], quad=as_quad(quads[0]), corners=corners)
        width = line_width(cuts[0], stretch=SCENE_STRETCH)
        probs = [o.probs for o in self.models.recogniser.read(cuts, [width] * len(cuts))]
        probs.append(np.mean(probs, axis=0).astype(np.float32))
        vocabulary = self.models.recogniser.vocabulary
        folds = [vocabulary.fold(p, self.alphabet) for p in probs]
        voted = self._vote(line, folds, None)
        if voted is None or cn.province_sure(voted):
            return voted
        parts = [cn.province_part(replace(line, image=cut)) for cut in cuts]
        return self._vote(line, folds, self._province_evidence(parts)) or voted

    def _vote(
        self, line: Line, folds: list[Folded], evidence: dict[str, float] | None
    ) -> Scored | None:
        """The text with the most confidence summed over the reads ``folds`` of one line.

        Its confidence is its best read's, scaled by its share, so reads that
        disagree lower it.
        """
        reads = [s for f in folds if (s := self._score(line, f, evidence)) is not None]
        if not reads:
            return None
        weight: dict[str, float] = {}
        for r in reads:
            weight[r.reading.text] = weight.get(r.reading.text, 0.0) + max(r.confidence, 1e-6)
        winner = max(weight, key=lambda t: weight[t])
        top = max((r for r in reads if r.reading.text == winner), key=lambda r: r.confidence)
        share = weight[winner] / sum(weight.values())
        return replace(top, confidence=top.confidence * share, found=top.found * share)

    def _best(self, lines: list[Line]) -> Scored | None:
        """The line most likely to be the plate: in grammar, confident, large."""
        if not lines:
            return None
        scored = [
            s
            for line, folded in zip(lines, self._recognise(lines), strict=True)
            if (s := self._score(line, folded)) is not None
        ]
        tallest = max((s.line.height for s in scored if s.reading.in_grammar), default=0.0)
        if not scored:
            return None
        return self._with_province(max(scored, key=lambda s: rank_key(s, tallest)))

    def _with_province(self, scored: Scored) -> Scored:
        """``scored``, scored again with its left part read apart when it is
        unsure of its province (see ``_province_sure``)."""
        if cn.province_sure(scored):
            return scored
        evidence = self._province_evidence([cn.province_part(scored.line)])
        return self._score(scored.line, scored.folded, evidence) or scored

    def _score(
        self, line: Line, folded: Folded, evidence: dict[str, float] | None = None
    ) -> Scored | None:
        """The line's best reading and how confident it is.

        ``evidence`` holds province probabilities from a separate read of the
        plate's left part; without it a Chinese line is its own evidence (the
        province slot can only hold a province, so its confidence is the
        line's share for it among the provinces).
        """
        if evidence is None and self.config.region == "cn":
            evidence = province_peaks(folded)
        readings = rank(
            folded,
            self.grammar,
            self.config.off_grammar_cost,
            province=self.config.province,
            province_share=self.config.province_share,
            province_evidence=evidence,
        )
        if not readings:
            return None
        top = readings[0]
        factor = margin_factor(readings)
        factor *= plate_likeness(top.text, self.config.region, scene=line.scene)
        if not top.in_grammar:
            factor *= OFF_GRAMMAR_FACTOR
        body = top.char_conf[1:] if cn.starts_with_province(top) else top.char_conf
        found = min(body, default=0.0) * factor
        digit = has_digit(top.text, self.config.region)
        return Scored(top, top.min_conf * factor, line, found, digit, folded)

    def _recognise(self, lines: list[Line]) -> list[Folded]:
        """Read every line (both rows of a two-row plate) in one batch of the recogniser."""
        images: list[Image] = []
        widths: list[int] = []
        parts: list[tuple[int, int]] = []  # first row, rows
        for line in lines:
            rows = list(split_rows(line.image, 0.4)) if line.two_rows else [line.image]
            parts.append((len(images), len(rows)))
            images += rows
            stretch = SCENE_STRETCH if line.scene else 1.0
            widths += [line_width(row, stretch=stretch) for row in rows]
        outs = [o.probs for o in self.models.recogniser.read(images, widths)]
        vocabulary = self.models.recogniser.vocabulary
        return [
            vocabulary.fold(np.concatenate(outs[start : start + count]), self.alphabet)
            for start, count in parts
        ]

    def _province_evidence(self, parts: list[Image]) -> dict[str, float]:
        """Province probabilities from the plates' left parts (see :func:`cn.province_evidence`)."""
        return cn.province_evidence(self.models.recogniser, self.alphabet, parts)

    def _result(self, best: Scored) -> PlateResult:
        cfg = self.config
        accepted = best.confidence >= cfg.threshold
        reason = None
        if not accepted:
            reason = f"confidence {best.confidence:.2f} below threshold {cfg.threshold:.2f}"
        r = best.reading
        plate_type = cn.plate_type(r, best.line) if cfg.region == "cn" else r.plate_type
        return PlateResult(
            text=r.text,
            region=cfg.region,
            plate_type=plate_type,
            char_confidences=r.char_conf,
            confidence=best.confidence,
            accepted=accepted,
            reason=reason,
            quad=best.line.quad,
            crop=best.line.image,
            province_prior_used=r.province_prior_used,
        )


#: Two boxes overlapping by this share of their union are one place in the frame.
SAME_PLACE_IOU = 0.5


def _same_place(a: Points | None, b: Points) -> bool:
    """Whether the boxes around corners ``a`` and ``b`` mostly overlap."""
    if a is None:
        return False
    box_a, box_b = bounds(a), bounds(b)
    shared = shared_area(box_a, box_b)
    union = area(box_a) + area(box_b) - shared
    return union > 0 and shared / union >= SAME_PLACE_IOU
