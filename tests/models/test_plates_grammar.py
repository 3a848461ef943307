"""Grammar, constrained CTC decoding and re-ranking on synthetic recogniser output."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.config import Region
from models.ctc import Folded, best_path, constrained_decode
from models.grammar import CN_ALNUM, CN_LETTERS, DIGITS, LETTERS, PROVINCES, grammar_for
from models.rerank import alphabet_for, rank

BR = grammar_for("br")
CN = grammar_for("cn")


def peaky(
    text: str, alphabet: tuple[str, ...], conf: float = 0.95, swaps: dict[int, str] | None = None
) -> Folded:
    """Probabilities of a recogniser that reads ``text`` (blank, char, blank, ...).

    ``swaps`` puts another character's peak at a position (what the model "saw").
    """
    steps = 2 * len(text) + 1
    n = len(alphabet)
    rest = (1.0 - conf) / (n + 1)
    probs = np.full((steps, n), rest, dtype=np.float32)
    blank = np.full(steps, conf, dtype=np.float32)
    for k, ch in enumerate(text):
        seen = (swaps or {}).get(k, ch)
        t = 2 * k + 1
        blank[t] = rest
        probs[t, alphabet.index(seen)] = conf
    return Folded(alphabet, probs, blank)


class TestTemplates:
    """Region templates describe real plate layouts."""

    @pytest.mark.parametrize(
        ("region", "text", "plate_type"),
        [
            ("cn", "皖AB146Y", "cn_blue"),
            ("cn", "皖AD22939", "cn_green_small"),
            ("br", "JPQ9870", "br_old"),
            ("br", "ABC1D23", "br_mercosur"),
            ("us", "4GLS168", "us"),
            ("us", "AB12", "us"),
            ("eu", "RK959AD", "eu"),
        ],
    )
    def test_known_layouts(self, region: str, text: str, plate_type: str) -> None:
        assert grammar_for(region).plate_type(text) == plate_type  # type: ignore[arg-type]

    def test_chinese_plates_never_use_I_or_O(self) -> None:
        assert CN.plate_type("皖AO146Y") == "unknown"
        assert CN.plate_type("皖AB1I6Y") == "unknown"


class TestConstrainedDecode:
    """The Viterbi decode fills the template and repairs confusable characters."""

    def test_reads_a_clean_plate(self) -> None:
        alpha = alphabet_for(BR)
        out = constrained_decode(peaky("JPQ9870", alpha), [t.slots for t in BR.templates])
        assert out[0] is not None
        assert out[0].text == "JPQ9870"
        assert min(out[0].char_conf) > 0.9

    def test_letter_O_in_a_digit_slot_becomes_zero(self) -> None:
        alpha = alphabet_for(BR)
        folded = peaky("JPQ9870", alpha, swaps={6: "O"})
        assert best_path(folded).text == "JPQ987O"
        readings = rank(folded, BR, off_grammar_cost=12.0)
        assert readings[0].text == "JPQ9870"
        assert readings[0].in_grammar

    def test_repeated_characters_need_a_blank_between(self) -> None:
        alpha = alphabet_for(BR)
        out = constrained_decode(peaky("AAA1111", alpha), [BR.templates[0].slots])
        assert out[0] is not None
        assert out[0].text == "AAA1111"

    def test_too_few_timesteps_gives_none(self) -> None:
        alpha = alphabet_for(BR)
        folded = peaky("AB", alpha)
        assert constrained_decode(folded, [BR.templates[0].slots]) == [None]

    def test_province_prior_decides_an_unsure_first_character(self) -> None:
        alpha = alphabet_for(CN)
        folded = peaky("皖AB146Y", alpha)
        probs = folded.probs.copy()
        probs[1, alpha.index("皖")] = 0.30
        probs[1, alpha.index("苏")] = 0.35
        unsure = Folded(alpha, probs, folded.blank)
        assert rank(unsure, CN, 12.0)[0].text == "苏AB146Y"
        leaned = rank(unsure, CN, 12.0, province="皖")[0]
        assert leaned.text == "皖AB146Y"
        assert leaned.province_prior_used

    def test_left_part_evidence_outweighs_a_sure_wrong_full_line_province(self) -> None:
        alpha = alphabet_for(CN)
        folded = peaky("皖AB146Y", alpha)
        probs = folded.probs.copy()
        probs[1, alpha.index("皖")] = 0.05  # the full line is sure of the wrong glyph
        probs[1, alpha.index("陕")] = 0.60
        sure_wrong = Folded(alpha, probs, folded.blank)
        assert rank(sure_wrong, CN, 12.0)[0].text == "陕AB146Y"
        evidence = dict.fromkeys(PROVINCES, 0.002) | {"皖": 0.55, "陕": 0.10}
        read = rank(sure_wrong, CN, 12.0, province_evidence=evidence)[0]
        assert read.text == "皖AB146Y"
        assert not read.province_prior_used

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), region=st.sampled_from(["cn", "eu", "us"]))
    def test_templates_that_start_alike_decode_as_if_alone(self, seed: int, region: Region) -> None:
        """Shared leading slots give every template the path it gets on its own."""
        grammar = grammar_for(region)
        alpha = alphabet_for(grammar)
        rng = np.random.default_rng(seed)
        table = rng.dirichlet(np.full(len(alpha) + 1, 0.1), size=18).astype(np.float32)
        folded = Folded(alpha, table[:, 1:], table[:, 0])
        templates = [t.slots for t in grammar.templates]
        together = constrained_decode(folded, templates)
        assert together == [constrained_decode(folded, [t])[0] for t in templates]


class TestReranking:
    """Grammar re-ranks, never filters."""

    def test_off_grammar_read_is_still_returned(self) -> None:
        alpha = alphabet_for(BR)
        folded = peaky("HELLO", alpha, conf=0.99)
        readings = rank(folded, BR, off_grammar_cost=0.5)
        assert readings[0].text == "HELLO"
        assert not readings[0].in_grammar
        assert readings[0].plate_type == "unknown"

    def test_grammar_wins_over_a_cheap_free_read_when_costly(self) -> None:
        alpha = alphabet_for(BR)
        folded = peaky("JPQ987O", alpha, conf=0.9)
        assert rank(folded, BR, off_grammar_cost=12.0)[0].text == "JPQ9870"


cn_plate = st.tuples(
    st.sampled_from(sorted(PROVINCES)),
    st.sampled_from(sorted(CN_LETTERS)),
    st.text(alphabet=sorted(CN_ALNUM), min_size=5, max_size=5),
).map("".join)
br_plate = st.tuples(
    st.text(alphabet=sorted(LETTERS), min_size=3, max_size=3),
    st.text(alphabet=sorted(DIGITS), min_size=4, max_size=4),
).map("".join)


class TestProperties:
    """A confident character the grammar allows is never changed."""

    @settings(max_examples=40, deadline=None)
    @given(plate=cn_plate, conf=st.floats(0.85, 0.999))
    def test_confident_grammatical_cn_plate_is_kept(self, plate: str, conf: float) -> None:
        alpha = alphabet_for(CN)
        assert rank(peaky(plate, alpha, conf), CN, 12.0)[0].text == plate

    @settings(max_examples=40, deadline=None)
    @given(plate=br_plate, conf=st.floats(0.85, 0.999))
    def test_confident_grammatical_br_plate_is_kept(self, plate: str, conf: float) -> None:
        alpha = alphabet_for(BR)
        top = rank(peaky(plate, alpha, conf), BR, 12.0)[0]
        assert top.text == plate
        assert top.min_conf >= conf - 1e-3

    @settings(max_examples=40, deadline=None)
    @given(plate=br_plate, position=st.integers(0, 6), conf=st.floats(0.3, 0.999))
    def test_rank_never_returns_nothing(self, plate: str, position: int, conf: float) -> None:
        alpha = alphabet_for(BR)
        folded = peaky(plate, alpha, conf, swaps={position: "Z"})
        assert rank(folded, BR, 12.0)
