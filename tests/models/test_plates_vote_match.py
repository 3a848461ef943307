"""Multi-frame voting, the operating threshold, and plate matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.config import RecognitionConfig
from models.grammar import confusion_weight
from models.match import MatchConfig, match_plate, plate_distance
from models.result import PlateResult, unreadable
from models.vote import fuse


def read(text: str, conf: float, threshold: float = 0.8) -> PlateResult:
    chars = tuple(conf for _ in text)
    return PlateResult(text, "br", "br_old", chars, conf, conf >= threshold, None, None)


class TestVote:
    """Frames of one vehicle fuse into one answer."""

    def test_majority_wins_and_agreement_is_counted(self) -> None:
        fused = fuse(
            [read("ABC1234", 0.9), read("ABC1234", 0.85), read("ABC1Z34", 0.95)], 0.5, "br"
        )
        assert fused.text == "ABC1234"
        assert fused.frames_read == 3
        assert fused.frames_agreeing == 2

    def test_disagreement_lowers_confidence(self) -> None:
        alone = fuse([read("ABC1234", 0.9)], 0.8, "br")
        split = fuse([read("ABC1234", 0.9), read("ABD1234", 0.8)], 0.8, "br")
        assert alone.accepted
        assert split.confidence < alone.confidence
        assert not split.accepted
        assert split.reason is not None
        assert "below threshold" in split.reason

    def test_unreadable_frames_do_not_outvote_a_read(self) -> None:
        fused = fuse([unreadable("br", "no plate found"), read("ABC1234", 0.9)], 0.8, "br")
        assert fused.text == "ABC1234"

    def test_no_readable_frame_keeps_the_reason(self) -> None:
        fused = fuse([unreadable("br", "no plate found in the frame")], 0.8, "br")
        assert not fused.accepted
        assert fused.reason == "no plate found in the frame"

    def test_no_frames(self) -> None:
        assert fuse([], 0.8, "br").reason == "no frames"


class TestThreshold:
    """The operating threshold is validated and applied."""

    def test_threshold_out_of_range_is_named(self) -> None:
        with pytest.raises(ValidationError, match="threshold"):
            RecognitionConfig(region="cn", threshold=1.5)

    @pytest.mark.parametrize(("conf", "accepted"), [(0.79, False), (0.8, True), (0.95, True)])
    def test_threshold_boundary(self, conf: float, accepted: bool) -> None:
        assert fuse([read("ABC1234", conf)], 0.8, "br").accepted is accepted


LIST = ["ABC1234", "XYZ9876", "ABC1Z34"]
CFG = MatchConfig()


class TestMatch:
    """Exact first, then confusion-weighted distance; ambiguity is flagged."""

    def test_exact(self) -> None:
        m = match_plate("abc-1234", LIST, CFG)
        assert m.exact
        assert m.entry == "ABC1234"
        assert not m.ambiguous

    def test_confusable_substitution_is_cheap(self) -> None:
        m = match_plate("XYZ98O6", ["XYZ9806"], CFG)
        assert m.entry == "XYZ9806"
        assert m.distance == pytest.approx(1.0 - 0.7 * confusion_weight("O", "0"))
        assert plate_distance("XYZ98K6", "XYZ9806", 0.3) == 1.0

    def test_ambiguous_match_is_flagged(self) -> None:
        m = match_plate("ABC1X34", LIST, CFG)
        assert m.ambiguous
        assert {m.entry, m.runner_up} == {"ABC1234", "ABC1Z34"}

    def test_far_plate_does_not_match(self) -> None:
        m = match_plate("QQQ0000", LIST, CFG)
        assert m.entry is None
        assert not m.exact

    def test_bad_config_is_named(self) -> None:
        with pytest.raises(ValidationError, match="confusion_cost"):
            MatchConfig(confusion_cost=2.0)


plates = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=0, max_size=8)


class TestMatchProperties:
    """Distance is symmetric; an exact entry always beats a fuzzy one."""

    @settings(max_examples=100, deadline=None)
    @given(a=plates, b=plates, cost=st.floats(0.0, 1.0))
    def test_symmetric(self, a: str, b: str, cost: float) -> None:
        assert plate_distance(a, b, cost) == pytest.approx(plate_distance(b, a, cost))

    @settings(max_examples=100, deadline=None)
    @given(plate=plates.filter(bool), others=st.lists(plates, max_size=5))
    def test_exact_beats_fuzzy(self, plate: str, others: list[str]) -> None:
        m = match_plate(plate, [*others, plate], CFG)
        assert m.exact
        assert m.entry == plate
        assert not m.ambiguous
