"""The reader with its real models on a few real images, and on bad input."""

from __future__ import annotations

import csv
import json
import os
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from paths import TEST_DATA

from models.candidates import Line, Scored
from models.colour import background
from models.config import RecognitionConfig
from models.ctc import Folded
from models.image import ImageError, equalise, load_image, to_bgr8
from models.locate import Candidate
from models.reader import Models, PlateReader
from models.recognise import line_width
from models.regions.cn import province_sure
from models.rerank import Reading
from models.runtime import REC_MODEL, ModelLoadError, load_session, model_dir
from models.scenes import paste
from models.scoring import extends, has_digit, rank_key
from models.worker import RecognitionWorker
from plumbing.cli import main

DATA = TEST_DATA / "plates"
LABELS = {
    row["file"]: row["plate"]
    for row in csv.DictReader((DATA / "labels.csv").read_text(encoding="utf-8").splitlines())
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models() -> Models:
    return Models(threads=1)


@pytest.fixture(scope="module")
def reader(models: Models) -> PlateReader:
    return PlateReader(RecognitionConfig(region="cn"), models)


class TestRealImages:
    """Real plates read to the published label."""

    @pytest.mark.parametrize("name", sorted(f for f in LABELS if f.startswith("cn_")))
    def test_lprnet_crop(self, reader: PlateReader, name: str) -> None:
        result = reader.read([load_image(DATA / name)], crops=True)
        assert result.text == LABELS[name]
        assert result.plate_type == "cn_blue"
        assert len(result.char_confidences) == 7

    @pytest.mark.parametrize("name", sorted(f for f in LABELS if f.startswith("ccpd")))
    def test_ccpd_full_frame(self, reader: PlateReader, name: str) -> None:
        result = reader.read([load_image(DATA / name)])
        assert result.text == LABELS[name]
        assert result.quad is not None
        assert result.crop is not None
        assert result.min_confidence <= result.mean_confidence

    def test_yellow_plate_type(self, reader: PlateReader) -> None:
        """A lorry's plate: black characters on yellow, seven of them like a blue plate's."""
        from simulators.plate_render import render_plate

        blue = render_plate("皖A12345", height=96).astype(np.float32)
        # Blue background to yellow, white characters and rim to black.
        share = np.clip((blue[..., :1] - blue[..., 2:3]) / 181.0, 0.0, 1.0)
        yellow = (share * np.array([0, 200, 245], dtype=np.float32)).astype(np.uint8)
        result = reader.read([yellow], crops=True)
        assert (result.text, result.plate_type) == ("皖A12345", "cn_yellow")

    def test_green_plate_type(self, reader: PlateReader) -> None:
        result = reader.read([load_image(DATA / "ccpdg_882e80a49884.jpg")])
        assert result.plate_type.startswith("cn_green")

    def test_frames_of_one_vehicle_are_fused(self, reader: PlateReader) -> None:
        image = load_image(DATA / "cn_019d088c29af.jpg")
        result = reader.read([image, image], crops=True)
        assert result.text == "皖AB146Y"
        assert result.frames_read == 2
        assert result.frames_agreeing == 2

    def test_two_row_plate_is_read_as_one_text(self, reader: PlateReader) -> None:
        """A two-row plate made from a real crop: province and letter above, the rest below."""
        image = load_image(DATA / "cn_019d088c29af.jpg")
        h, w = image.shape[:2]
        cut = int(w * 0.3)
        top = cv2.resize(image[:, :cut], (w // 2, int(h * 0.8)))
        top = cv2.copyMakeBorder(top, 0, 0, w // 4, w - w // 2 - w // 4, cv2.BORDER_REPLICATE)
        two_rows = np.vstack([top, cv2.resize(image[:, cut:], (w, h))])
        assert reader.read([two_rows], crops=True).text == "皖AB146Y"

    def test_roi_without_the_plate_finds_nothing(self, models: Models) -> None:
        roi_reader = PlateReader(RecognitionConfig(region="cn", roi=(0, 0, 720, 300)), models)
        result = roi_reader.read([load_image(DATA / "ccpd_0bfc3934f7fc.jpg")])
        assert not result.accepted


class TestCloserLook:
    """A line the first search boxed too short, or did not find, is read whole."""

    @staticmethod
    def small_plate_frame() -> np.ndarray:
        """A tall frame with a small printed plate, ``ANW2529``, near its middle."""
        frame = np.full((1400, 1000, 3), 90, dtype=np.uint8)
        cv2.rectangle(frame, (400, 600), (560, 660), (235, 235, 235), -1)
        cv2.putText(frame, "ANW2529", (410, 645), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)
        return frame

    def test_a_box_that_cuts_off_characters_is_found_whole(self, models: Models) -> None:
        """Given a box round the middle of the text only (``W252``), the closer
        look boxes the whole line: the text runs from x≈410 to x≈545."""
        part = np.array([[450, 620], [520, 620], [520, 652], [450, 652]], dtype=np.float32)
        boxes = models.locator.look_closer(self.small_plate_frame(), part)
        assert boxes
        assert any(b[:, 0].min() < 415 and b[:, 0].max() > 540 for b in boxes)
        assert all(b[:, 1].min() >= 600 and b[:, 1].max() <= 665 for b in boxes)

    def test_a_line_already_large_needs_no_closer_look(self, models: Models) -> None:
        large = np.array([[100, 100], [700, 100], [700, 220], [100, 220]], dtype=np.float32)
        assert models.locator.look_closer(self.small_plate_frame(), large) == []

    def test_a_box_at_the_frame_edge_is_looked_at_inside_the_frame(self, models: Models) -> None:
        edge = np.array([[-30, -10], [20, -10], [20, 12], [-30, 12]], dtype=np.float32)
        assert models.locator.look_closer(self.small_plate_frame(), edge) == []

    def test_a_line_its_first_refinement_accepts_gets_no_closer_look(
        self, reader: PlateReader, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The green plate's first read is unsure and its re-read from the found box is
        accepted: the closer look (two more detections and reads) would only cost time."""

        def no_closer_look(frame: np.ndarray, corners: np.ndarray) -> list[np.ndarray]:
            raise AssertionError("looked closer at a line already accepted")

        monkeypatch.setattr(reader.models.locator, "look_closer", no_closer_look)
        result = reader.read([load_image(DATA / "ccpdg_882e80a49884.jpg")])
        assert (result.text, result.accepted) == (LABELS["ccpdg_882e80a49884.jpg"], True)

    def test_a_plate_faded_into_its_surroundings_is_read(self, reader: PlateReader) -> None:
        """The plate's own contrast cut to a tenth (the rest of the frame as shot):
        the detector misses it until the frame's local contrast is raised."""
        image = load_image(DATA / "ccpd_24e43eb79778.jpg")
        quad = reader.read([image]).quad
        assert quad is not None
        (x0, y0), (x1, y1) = np.min(quad, axis=0) - 20, np.max(quad, axis=0) + 20
        faded = image.astype(np.float32)
        region = faded[int(y0) : int(y1), int(x0) : int(x1)]
        mean = region.mean(axis=(0, 1))
        faded[int(y0) : int(y1), int(x0) : int(x1)] = mean + (region - mean) * 0.1
        result = reader.read([faded.clip(0, 255).astype(np.uint8)])
        assert result.text == LABELS["ccpd_24e43eb79778.jpg"]
        assert result.accepted

    def test_equalising_raises_contrast_and_keeps_the_frame(self) -> None:
        rng = np.random.default_rng(0)
        dull = (120 + rng.integers(0, 12, (128, 128, 1))).repeat(3, axis=2).astype(np.uint8)
        dull[40:80, 20:100] += 8
        out = equalise(dull)
        assert out.shape == dull.shape
        assert out.dtype == np.uint8
        assert out.std() > 2 * dull.std()


class TestWiderLook:
    """An accepted read whose box left out an edge character is read whole."""

    @staticmethod
    def printed_plate(text: str) -> np.ndarray:
        """A frame with a large printed plate; ``text`` starts at x≈215, some 70 px a character."""
        frame = np.full((720, 1000, 3), 90, dtype=np.uint8)
        cv2.rectangle(frame, (180, 300), (820, 420), (235, 235, 235), -1)
        cv2.putText(frame, text, (215, 390), cv2.FONT_HERSHEY_SIMPLEX, 3.0, (30, 30, 30), 7)
        return frame

    def test_a_character_the_box_left_out_is_read(
        self, models: Models, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The detector boxes ``NW2529`` only; a cut a little wider shows the ``A``."""
        frame = self.printed_plate("ANW2529")
        short = np.array([[298, 318], [800, 318], [800, 402], [298, 402]], dtype=np.float32)
        monkeypatch.setattr(models.locator, "find", lambda *args, **kwargs: [Candidate(short, 0.9)])
        reader = PlateReader(RecognitionConfig(region="us"), models)
        result = reader.read([frame])
        assert (result.text, result.accepted) == ("ANW2529", True)

    @pytest.mark.parametrize(
        ("name", "colour"), [("ccpd_0bfc3934f7fc.jpg", "blue"), ("ccpdg_882e80a49884.jpg", "green")]
    )
    def test_a_chinese_blue_plate_is_told_from_a_green_one(
        self, reader: PlateReader, name: str, colour: str
    ) -> None:
        """Blue plates have seven characters: a seven-character read of one needs no wider look."""
        crop = reader.read([load_image(DATA / name)]).crop
        assert crop is not None
        assert background(crop) == colour

    @pytest.mark.parametrize(
        ("text", "confidences", "extended"),
        [
            ("ANW2529", (0.95, *[0.99] * 6), True),
            ("NW25291", (*[0.99] * 6, 0.97), True),
            ("YBW231", (*[0.99] * 5, 0.89), False),  # a bolt read weakly beyond the plate
            ("NW2529", (0.99,) * 6, False),  # the same text
            ("MW2529X", (0.99,) * 7, False),  # longer, but without the text
        ],
    )
    def test_only_confident_characters_beyond_the_text_extend_it(
        self, text: str, confidences: tuple[float, ...], extended: bool
    ) -> None:
        short = "YBW23" if text.startswith("YBW") else "NW2529"
        wide = Reading(text, "us", confidences, 0.0, True)
        assert extends(wide, short, 0.93) is extended


class TestProvincePart:
    """The plate's left part is read apart only when the line is unsure of its province."""

    @staticmethod
    def scored(text: str, peaks: dict[str, float], in_grammar: bool = True) -> Scored:
        alphabet = ("A", "B", "皖", "陕")
        probs = np.zeros((3, len(alphabet)), dtype=np.float32)
        for ch, p in peaks.items():
            probs[0, alphabet.index(ch)] = p
        folded = Folded(alphabet, probs, np.ones(3, dtype=np.float32))
        line = Line(np.zeros((8, 8, 3), dtype=np.uint8), None, 8.0)
        reading = Reading(text, "cn_blue", (0.99,) * len(text), 0.0, in_grammar)
        return Scored(reading, 0.99, line, 0.99, True, folded)

    @pytest.mark.parametrize(
        ("text", "peaks", "in_grammar", "sure"),
        [
            ("皖AB", {"皖": 0.9, "陕": 0.05}, True, True),
            ("皖AB", {"皖": 0.5, "陕": 0.05}, True, False),  # too little on its province
            ("皖AB", {"皖": 0.3, "陕": 0.85}, True, False),  # sure of another province
            ("ABA", {}, True, True),  # no province slot to be sure of
            ("皖AB", {"皖": 0.1}, False, True),  # off the grammar: no province slot
        ],
    )
    def test_sure_of_its_province(
        self, text: str, peaks: dict[str, float], in_grammar: bool, sure: bool
    ) -> None:
        assert province_sure(self.scored(text, peaks, in_grammar)) is sure

    @pytest.mark.parametrize(
        ("name", "crop", "parts_read"),
        [("cn_019d088c29af.jpg", True, 0), ("ccpd_0bfc3934f7fc.jpg", False, 1)],
    )
    def test_left_part_is_read_only_for_an_unsure_province(
        self,
        models: Models,
        monkeypatch: pytest.MonkeyPatch,
        name: str,
        crop: bool,
        parts_read: int,
    ) -> None:
        """The LPRNet crop reads its province clearly; the CCPD plate, small in
        its frame, needs its left part read apart to be sure of 皖."""
        reader = PlateReader(RecognitionConfig(region="cn"), models)
        calls: list[int] = []
        evidence = reader._province_evidence

        def spy(parts: list[np.ndarray]) -> dict[str, float]:
            calls.append(len(parts))
            return evidence(parts)

        monkeypatch.setattr(reader, "_province_evidence", spy)
        result = reader.read([load_image(DATA / name)], crops=crop)
        assert (result.text, result.accepted) == (LABELS[name], True)
        assert len(calls) == parts_read


class TestPlateSeenAtAnAngle:
    """A Chinese plate turned or sheared against the detector's box is cut to its own background."""

    def test_a_tilted_plates_province_is_cut_from_the_plate_itself(
        self, reader: PlateReader
    ) -> None:
        """The detector's box of this plate is turned less than the plate: the
        province part cut from that box reads 皖 at 0.27, the part cut from the
        plate's own blue background at 0.97."""
        result = reader.read([load_image(DATA.parent / "plates_tilted" / "ccpd_ffe51c0d4c30.jpg")])
        assert (result.text, result.accepted) == ("皖A099Q5", True)

    def test_a_sheared_plate_is_read_cut_to_its_coloured_background(
        self, reader: PlateReader
    ) -> None:
        """A real crop turned 15° and sheared into a CCPD frame: the detector's
        box runs along its characters and its cuts read at most 0.92; the plate
        cut to its blue background reads clearly."""
        frame = load_image(DATA / "ccpd_0bfc3934f7fc.jpg")
        crop = load_image(DATA / "cn_019d088c29af.jpg")
        box = (249, 560, 561, 670)  # the frame's own plate, blurred away
        frame, _ = paste(crop, frame, box, turn=15.0, shear=0.2, width=140.0)
        result = reader.read([frame])
        assert (result.text, result.accepted) == ("皖AB146Y", True)


class TestBadInput:
    """Bad images give a clear result or a clear error."""

    def test_unreadable_file(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.jpg"
        path.write_bytes(b"not a jpeg")
        with pytest.raises(ImageError, match="not a readable image"):
            load_image(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ImageError, match="no such file"):
            load_image(tmp_path / "absent.png")

    def test_empty_image(self, reader: PlateReader) -> None:
        with pytest.raises(ImageError, match="shape"):
            reader.read([np.zeros((0, 0, 3), dtype=np.uint8)])

    def test_tiny_image(self, reader: PlateReader) -> None:
        with pytest.raises(ImageError, match="too small"):
            reader.read([np.zeros((4, 4, 3), dtype=np.uint8)])

    def test_grey_crop_is_read(self, reader: PlateReader) -> None:
        grey = load_image(DATA / "cn_04d23b915456.jpg")[:, :, 1]
        result = reader.read([grey], crops=True)
        assert result.text[1:] == "C8GK31"

    def test_sixteen_bit_image_is_scaled(self, reader: PlateReader) -> None:
        image = load_image(DATA / "cn_019d088c29af.jpg").astype(np.uint16) * 257
        assert to_bgr8(image).dtype == np.uint8
        assert reader.read([image], crops=True).text == "皖AB146Y"

    def test_frame_without_a_plate(self, reader: PlateReader) -> None:
        result = reader.read([np.full((480, 640, 3), 128, dtype=np.uint8)])
        assert not result.accepted
        assert result.text == ""
        assert result.reason == "no plate found in the frame"

    def test_five_channels_is_named(self) -> None:
        with pytest.raises(ImageError, match="5 channels"):
            to_bgr8(np.zeros((20, 20, 5), dtype=np.uint8))

    def test_missing_model_fails_with_its_path(self, tmp_path: Path) -> None:
        with pytest.raises(ModelLoadError, match="model file not found"):
            load_session(tmp_path / "absent.onnx", threads=1)

    def test_corrupt_model_fails_with_its_path(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.onnx"
        path.write_bytes(b"garbage")
        with pytest.raises(ModelLoadError, match=r"bad\.onnx"):
            load_session(path, threads=1)

    def test_sessions_allocate_from_the_shared_arena_without_shape_patterns(self) -> None:
        options = load_session(model_dir() / REC_MODEL, threads=1).get_session_options()
        assert options.get_session_config_entry("session.use_env_allocators") == "1"
        assert options.enable_mem_pattern is False


class TestCommands:
    """`lanewarden plates read` and `lanewarden bench plates`."""

    def test_plates_read_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(["plates", "read", str(DATA / "cn_019d088c29af.jpg"), "--crop", "--json"])
        assert code == 0
        out = json.loads(capsys.readouterr().out)
        assert out["text"] == "皖AB146Y"
        assert out["region"] == "cn"

    def test_plates_read_bad_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        bad = tmp_path / "cn_bad.jpg"
        bad.write_bytes(b"x")
        assert main(["plates", "read", str(bad)]) == 1
        assert "not a readable image" in capsys.readouterr().err

    def test_bench_on_a_small_tree(self, tmp_path: Path) -> None:
        crops = tmp_path / "crops"
        crops.mkdir()
        rows = ["file,plate"]
        for name in ("cn_019d088c29af.jpg", "cn_06036a07ca17.jpg"):
            (crops / name).write_bytes((DATA / name).read_bytes())
            rows.append(f"{name},{LABELS[name]}")
        (crops / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        out = tmp_path / "bench.json"
        assert main(["bench", "plates", str(tmp_path), "--json", str(out)]) == 0
        data = json.loads(out.read_text(encoding="utf-8"))
        assert data[0]["engine"] == "lanewarden"
        assert data[0]["n"] == 2
        assert data[0]["exact"] == 1.0
        assert set(data[0]) == {
            "engine",
            "set",
            "prefix",
            "n",
            "exact",
            "coverage",
            "error_rate",
            "median_ms",
            "p95_ms",
            "rss_mb",
        }

    def test_bench_with_a_province_loads_the_models_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Both engines read on one set of sessions: a second would count in
        the peak memory reported for the reader."""
        import models.bench

        loads: list[int] = []
        load = models.bench.Models

        def counted(threads: int) -> Models:
            loads.append(threads)
            return load(threads)

        monkeypatch.setattr(models.bench, "Models", counted)
        crops = tmp_path / "crops"
        crops.mkdir()
        name = "cn_019d088c29af.jpg"
        (crops / name).write_bytes((DATA / name).read_bytes())
        (crops / "labels.csv").write_text(f"file,plate\n{name},{LABELS[name]}\n", encoding="utf-8")
        out = tmp_path / "bench.json"
        assert main(["bench", "plates", str(tmp_path), "--province", "皖", "--json", str(out)]) == 0
        engines = [row["engine"] for row in json.loads(out.read_text(encoding="utf-8"))]
        assert engines == ["lanewarden", "lanewarden+province"]
        assert len(loads) == 1

    def test_bench_names_a_bad_prefix(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        crops = tmp_path / "crops"
        crops.mkdir()
        (crops / "labels.csv").write_text("file,plate\nxx_1.jpg,ABC\n", encoding="utf-8")
        assert main(["bench", "plates", str(tmp_path)]) == 2
        assert "prefix 'xx'" in capsys.readouterr().err


class TestWorker:
    """Reads run on a worker thread; a broken model fails at start."""

    def test_reads_on_the_worker_and_stops(self) -> None:
        worker = RecognitionWorker(RecognitionConfig(region="cn", threads=1))
        worker.start()
        try:
            future = worker.submit([load_image(DATA / "cn_04d23b915456.jpg")], crops=True)
            assert future.result(timeout=60).text == "沪C8GK31"
        finally:
            worker.close()

    def test_missing_models_fail_start_with_the_path(self, tmp_path: Path) -> None:
        worker = RecognitionWorker(RecognitionConfig(region="cn"), model_folder=tmp_path)
        with pytest.raises(ModelLoadError, match="model file not found"):
            worker.start()

    @pytest.mark.skipif(sys.platform != "linux", reason="a thread's own priority is Linux's")
    def test_reader_threads_run_below_the_lane(self) -> None:
        before = set(os.listdir("/proc/self/task"))
        here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        worker = RecognitionWorker(RecognitionConfig(region="cn", threads=2, nice=5))
        worker.start()
        try:
            started = set(os.listdir("/proc/self/task")) - before
            # The reader's thread and onnxruntime's inference threads (one more per model).
            assert len(started) >= 3
            assert {task_nice(task) for task in started} == {min(19, here + 5)}
            assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here
            future = worker.submit([load_image(DATA / "cn_04d23b915456.jpg")])
            assert future.result(timeout=60).text == "沪C8GK31"
        finally:
            worker.close()

    def test_submit_before_start_is_an_error(self) -> None:
        worker = RecognitionWorker(RecognitionConfig(region="cn"))
        with pytest.raises(RuntimeError, match="before start"):
            worker.submit([np.zeros((24, 94, 3), dtype=np.uint8)])


def task_nice(task: str) -> int:
    """A thread's nice value, from /proc (field 19 of its stat line)."""
    stat = Path(f"/proc/self/task/{task}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


class TestRegionOfInterest:
    """A region of interest outside the frame finds nothing, without error."""

    def test_roi_outside_the_frame(self, models: Models) -> None:
        config = RecognitionConfig(region="cn", roi=(5000, 5000, 6000, 6000))
        result = PlateReader(config, models).read([load_image(DATA / "ccpd_0bfc3934f7fc.jpg")])
        assert result.reason == "no plate found in the frame"


class TestLineWidth:
    """The recogniser's input width: the line's own aspect at height 48, in steps of 8."""

    def test_own_aspect_rounded_to_eight(self) -> None:
        line = np.zeros((30, 150, 3), dtype=np.uint8)  # 5:1 -> 240 at height 48
        assert line_width(line) == 240

    def test_stretch_widens_and_bounds_still_hold(self) -> None:
        line = np.zeros((30, 150, 3), dtype=np.uint8)
        assert line_width(line, stretch=1.25) == 304  # 300, to a multiple of 8
        assert line_width(np.zeros((48, 20, 3), dtype=np.uint8), stretch=1.25) == 64
        assert line_width(np.zeros((10, 400, 3), dtype=np.uint8), stretch=1.25) == 640


class TestLineRanking:
    """Which detected line is taken for the plate."""

    @staticmethod
    def scored(text: str, found: float, height: float, region: str = "us") -> Scored:
        line = Line(np.zeros((8, 8, 3), dtype=np.uint8), None, height, scene=True)
        reading = Reading(text, region, (found,) * len(text), 0.0, in_grammar=True)
        folded = Folded(("A",), np.zeros((1, 1), dtype=np.float32), np.ones(1, dtype=np.float32))
        return Scored(reading, found, line, found, has_digit(text, region), folded)

    def test_line_with_a_digit_beats_larger_lettering(self) -> None:
        truck_name = self.scored("PENSKE", 0.9, height=80.0)
        plate = self.scored("1049338", 0.5, height=30.0)
        tallest = 80.0
        assert rank_key(plate, tallest) > rank_key(truck_name, tallest)

    def test_size_decides_between_lines_with_digits(self) -> None:
        sticker = self.scored("2026", 0.9, height=15.0)
        plate = self.scored("7ABC123", 0.8, height=40.0)
        assert rank_key(plate, 40.0) > rank_key(sticker, 40.0)

    @pytest.mark.parametrize(
        ("text", "region", "expected"),
        [("C0L0RAD0", "us", False), ("COLORADO", "eu", False), ("AB12", "eu", True)],
    )
    def test_a_us_zero_is_no_digit(self, text: str, region: str, expected: bool) -> None:
        assert has_digit(text, region) is expected

    def test_regions_without_the_rule_always_pass(self) -> None:
        assert has_digit("皖ABCDEF", "cn")
