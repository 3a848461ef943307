"""The project's plate network at run time: preprocessing, ONNX loading, CTC decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from paths import TEST_DATA

from models.ctc import Vocabulary
from models.grammar import grammar_for
from models.plate_net import CHARSET, HEIGHT, SYMBOLS, WIDTH, PlateNet, decode, prepare
from models.rerank import alphabet_for
from models.runtime import REC_MODEL, ModelLoadError, model_dir


def network_output(text: str, conf: float = 0.96, steps: int = 48) -> np.ndarray:
    """(T, V) probabilities of a network reading ``text`` (blank, char, blank, ...)."""
    probs = np.full((steps, len(SYMBOLS)), (1 - conf) / len(SYMBOLS), dtype=np.float32)
    probs[:, 0] = conf
    for k, ch in enumerate(text):
        t = 3 + 4 * k
        probs[t, 0] = (1 - conf) / len(SYMBOLS)
        probs[t, SYMBOLS.index(ch)] = conf
    return probs


def folded(text: str, region: str) -> object:
    alphabet = alphabet_for(grammar_for(region))  # type: ignore[arg-type]
    return Vocabulary(SYMBOLS).fold(network_output(text), alphabet)


class TestDecode:
    """The network's output decodes through the region's grammar."""

    def test_reads_a_clean_plate(self) -> None:
        alphabet = alphabet_for(grammar_for("cn"))
        read = decode(Vocabulary(SYMBOLS).fold(network_output("皖AB146Y"), alphabet), "cn")
        assert read.text == "皖AB146Y"
        assert read.plate_type == "cn_blue"
        assert read.confidence > 0.9
        assert read.greedy == "皖AB146Y"

    def test_grammar_repairs_a_look_alike(self) -> None:
        """Chinese plates carry no O: a sure O in a digit-or-letter slot reads as 0."""
        alphabet = alphabet_for(grammar_for("cn"))
        read = decode(Vocabulary(SYMBOLS).fold(network_output("皖AB1O6Y"), alphabet), "cn")
        assert read.greedy == "皖AB1O6Y"
        assert read.text == "皖AB106Y"

    def test_green_plate(self) -> None:
        alphabet = alphabet_for(grammar_for("cn"))
        read = decode(Vocabulary(SYMBOLS).fold(network_output("皖AD12345"), alphabet), "cn")
        assert read.text == "皖AD12345"
        assert read.plate_type == "cn_green_small"

    def test_charset_has_every_grammar_character(self) -> None:
        for region in ("cn", "us", "eu", "br"):
            assert grammar_for(region).alphabet <= set(CHARSET)  # type: ignore[arg-type]


class TestPrepare:
    """Crops become the network's input batch."""

    def test_shape_and_range(self) -> None:
        crops = [np.zeros((24, 94, 3), np.uint8), np.full((156, 320, 3), 255, np.uint8)]
        batch = prepare(crops)
        assert batch.shape == (2, 3, HEIGHT, WIDTH)
        assert batch[0].min() == -1.0
        assert batch[1].max() == 1.0

    def test_grey_image_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"crop 0: expected a BGR image"):
            prepare([np.zeros((24, 94), np.uint8)])


class TestLoading:
    """Only a model exported for this character set loads."""

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ModelLoadError, match="model file not found"):
            PlateNet(tmp_path / "none.onnx")

    def test_model_of_another_charset_is_refused(self) -> None:
        with pytest.raises(ModelLoadError, match="character set differs"):
            PlateNet(model_dir() / REC_MODEL)


class TestShippedModel:
    """The model shipped in the package loads and reads real crops."""

    @pytest.mark.parametrize(
        ("name", "plate"),
        [
            ("cn_019d088c29af.jpg", "皖AB146Y"),
            ("cn_04d23b915456.jpg", "沪C8GK31"),
            ("cn_06036a07ca17.jpg", "皖ALG516"),  # in the manifest's validation part
        ],
    )
    def test_reads_lprnet_crops(self, name: str, plate: str) -> None:
        from models.image import load_image

        image = load_image(TEST_DATA / "plates" / name)
        (read,) = PlateNet().read([image], "cn")
        assert read.text == plate
        assert read.confidence > 0.9
