"""Evidence images: atomic JPEG files per lane and day, size cap, clear errors, purge."""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.config.evidence import EvidenceConfig
from edge.evidence import Evidence, EvidenceError, Saved, SaveError, site_key
from plumbing.metrics import MetricsConfig

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LANE = "riverside-exit"


def frame(seed: int = 0, shape: tuple[int, ...] = (120, 160, 3)) -> np.ndarray[Any, Any]:
    """A smooth picture (a gradient with a seed-dependent offset)."""
    rows = np.linspace(0, 200, shape[0], dtype=np.float64)[:, None]
    cols = np.linspace(0, 50, shape[1], dtype=np.float64)[None, :]
    gray = ((rows + cols + seed) % 256).astype(np.uint8)
    return np.dstack([gray] * shape[2]) if len(shape) == 3 else gray


def noise(shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """A picture JPEG cannot compress much."""
    return np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)


def evidence(tmp_path: Path, **overrides: Any) -> Evidence:
    fields: dict[str, Any] = {"directory": tmp_path / "evidence", "min_free_mb": 0}
    fields.update(overrides)
    return Evidence(EvidenceConfig(**fields), LANE)


def saved(outcome: Saved | SaveError) -> Saved:
    assert isinstance(outcome, Saved), outcome
    return outcome


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


class TestSaving:
    """Frame and plate crop become JPEG files named by time, role and content."""

    def test_passage_saves_frame_and_plate(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        result = store.save_passage(T0, frame(), frame(1, (40, 120, 3)))
        assert result.ok
        frame_id, plate_id = result.image_ids
        assert frame_id.startswith("20261120T080000Z-frame-")
        assert plate_id.startswith("20261120T080000Z-plate-")
        assert files(store.root) == sorted(f"2026-11-20/{i}.jpg" for i in result.image_ids)

    def test_id_names_the_content(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        kept = saved(store.save_image(frame(), "frame", T0))
        data = kept.path.read_bytes()
        assert kept.image_id.endswith(hashlib.sha256(data).hexdigest())
        assert kept.path == store.path_of(kept.image_id)
        assert kept.size == len(data)

    def test_file_is_the_image(self, tmp_path: Path) -> None:
        image = frame()
        kept = saved(evidence(tmp_path).save_image(image, "frame", T0))
        decoded = cv2.imdecode(np.frombuffer(kept.path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == image.shape
        assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 3

    def test_same_image_is_kept_once(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        first = saved(store.save_image(frame(), "frame", T0))
        second = saved(store.save_image(frame(), "frame", T0))
        assert first.image_id == second.image_id
        assert len(files(store.root)) == 1

    def test_missing_plate_crop_is_skipped(self, tmp_path: Path) -> None:
        result = evidence(tmp_path).save_passage(T0, frame(), None)
        assert result.ok
        assert len(result.image_ids) == 1

    @pytest.mark.parametrize("shape", [(60, 80), (60, 80, 1)])
    def test_gray_images_are_kept(self, tmp_path: Path, shape: tuple[int, ...]) -> None:
        assert isinstance(evidence(tmp_path).save_image(noise(shape), "plate", T0), Saved)

    def test_day_folder_is_the_utc_day(self, tmp_path: Path) -> None:
        beijing = timezone(timedelta(hours=8))
        store = evidence(tmp_path)
        kept = saved(
            store.save_image(frame(), "frame", datetime(2026, 11, 21, 1, 0, tzinfo=beijing))
        )
        assert kept.path.parent.name == "2026-11-20"
        assert kept.image_id.startswith("20261120T170000Z-")

    def test_lanes_keep_separate_folders(self, tmp_path: Path) -> None:
        config = EvidenceConfig(directory=tmp_path, min_free_mb=0)
        a = saved(Evidence(config, "lane-a").save_image(frame(), "frame", T0))
        b = saved(Evidence(config, "lane-b").save_image(frame(), "frame", T0))
        assert a.path.parent.parent.name == "lane-a"
        assert b.path.parent.parent.name == "lane-b"

    def test_threads_saving_the_same_image_agree(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        ids: list[str] = []

        def save() -> None:
            ids.append(saved(store.save_image(frame(), "frame", T0)).image_id)

        threads = [threading.Thread(target=save) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(ids)) == 1
        assert len(files(store.root)) == 1

    def test_bad_image_id_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"image_id: not an evidence image id: '\.\./x'"):
            evidence(tmp_path).path_of("../x")


class TestAtomicWrite:
    """An image is either complete under its name or absent; temporary files are hidden."""

    def test_no_temporary_file_is_left(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        store.save_passage(T0, frame(), frame(2))
        day = store.root / "2026-11-20"
        assert all(name.endswith(".jpg") and not name.startswith(".") for name in os.listdir(day))

    def test_file_is_durable_and_not_world_writable(self, tmp_path: Path) -> None:
        kept = saved(evidence(tmp_path).save_image(frame(), "frame", T0))
        assert kept.path.stat().st_mode & 0o777 == 0o640 & ~_umask()

    def test_crash_leftover_is_never_taken_for_an_image(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        kept = saved(store.save_image(frame(), "frame", T0))
        data = kept.path.read_bytes()
        kept.path.unlink()
        leftover = kept.path.parent / f".{kept.image_id}.{'a' * 32}.tmp"
        leftover.write_bytes(data[: len(data) // 2])  # a write cut short by a crash
        assert not store.path_of(kept.image_id).exists()
        again = saved(store.save_image(frame(), "frame", T0))
        assert again.path.read_bytes() == data


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class TestSizeCap:
    """An image larger than the cap is re-encoded at lower quality, then smaller."""

    def test_small_image_keeps_configured_quality(self, tmp_path: Path) -> None:
        kept = saved(evidence(tmp_path, jpeg_quality=90).save_image(frame(), "frame", T0))
        assert (kept.quality, kept.scale) == (90, 1.0)

    def test_large_image_is_brought_under_the_cap(self, tmp_path: Path) -> None:
        store = evidence(tmp_path, max_image_kb=64)
        kept = saved(store.save_image(noise((720, 1280, 3)), "frame", T0))
        assert kept.size <= 64 * 1024
        assert kept.quality < 85 or kept.scale < 1.0
        decoded = cv2.imdecode(np.frombuffer(kept.path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[1] == int(1280 * kept.scale)

    def test_image_that_cannot_fit_is_refused(self, tmp_path: Path) -> None:
        outcome = evidence(tmp_path, max_image_kb=1).save_image(noise((40, 40, 3)), "frame", T0)
        assert isinstance(outcome, SaveError)
        assert str(outcome) == "frame: does not fit in 1 KiB even at quality 30 and 40x40 px"


class TestBadImages:
    """A bad image is a clear error in the result, never an exception."""

    @pytest.mark.parametrize(
        ("image", "reason"),
        [
            (np.zeros((0, 0, 3), np.uint8), "empty image: shape (0, 0, 3)"),
            (np.zeros((10, 0), np.uint8), "empty image: shape (10, 0)"),
            (np.zeros((60, 80, 3), np.float32), "dtype float32, expected uint8"),
            (np.zeros((60, 80, 3), np.uint16), "dtype uint16, expected uint8"),
            (np.zeros((60, 80, 4), np.uint8), "shape (60, 80, 4), expected (height, width)"),
            (np.zeros((2, 60, 80, 3), np.uint8), "shape (2, 60, 80, 3), expected"),
            (b"\xff\xd8 not decoded", "not an image array: got bytes"),
        ],
    )
    def test_bad_image_is_named(self, tmp_path: Path, image: Any, reason: str) -> None:
        store = evidence(tmp_path)
        result = store.save_passage(T0, frame(), image)
        assert len(result.image_ids) == 1
        assert len(result.errors) == 1
        assert str(result.errors[0]).startswith(f"plate: {reason}")
        assert not result.ok

    def test_naive_time_is_refused(self, tmp_path: Path) -> None:
        outcome = evidence(tmp_path).save_image(frame(), "frame", datetime(2026, 11, 20, 8, 0))
        assert isinstance(outcome, SaveError)
        assert outcome.reason == "time of the passage is naive: 2026-11-20T08:00:00"


class TestWriteErrors:
    """An unwritable directory or a full disk is a result, and the passage goes on."""

    def test_directory_that_is_a_file(self, tmp_path: Path) -> None:
        blocker = tmp_path / "evidence"
        blocker.write_text("not a folder")
        result = evidence(tmp_path).save_passage(T0, frame(), frame(1))
        assert [e.role for e in result.errors] == ["frame", "plate"]
        assert str(result.errors[0]).startswith(
            f"frame: cannot create {blocker / LANE}/2026-11-20:"
        )
        assert result.image_ids == ()

    def test_failed_write_leaves_no_temporary_file(self, tmp_path: Path) -> None:
        store = evidence(tmp_path)
        target = store.path_of(saved(store.save_image(frame(), "frame", T0)).image_id)
        target.unlink()
        target.mkdir()  # the rename onto it fails as a full disk's write would
        outcome = store.save_image(frame(), "frame", T0)
        assert isinstance(outcome, SaveError)
        assert outcome.reason.startswith(f"cannot write {target}: ")
        assert sorted(p.name for p in target.parent.iterdir()) == [target.name]

    def test_nearly_full_disk_refuses_images(self, tmp_path: Path) -> None:
        store = evidence(tmp_path, min_free_mb=2**40)
        outcome = store.save_image(frame(), "frame", T0)
        assert isinstance(outcome, SaveError)
        assert outcome.reason.startswith("disk nearly full: ")
        assert outcome.reason.endswith(f"min_free_mb is {2**40}")
        assert files(store.root) == []


class TestPurge:
    """Purge deletes images older than the retention, by the time in their id."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Evidence:
        store = evidence(tmp_path, retention_days=2, plate_retention_days=2)
        for day in range(4):
            at = T0 + timedelta(days=day)
            assert store.save_passage(at, frame(day), frame(day + 10)).ok
        return store

    def test_old_images_and_folders_go(self, store: Evidence) -> None:
        report = store.purge(T0 + timedelta(days=3, hours=1))
        assert (report.files_deleted, report.folders_removed) == (4, 2)
        assert report.bytes_freed > 0
        assert report.ok
        assert sorted(p.name for p in store.root.iterdir()) == ["2026-11-22", "2026-11-23"]

    def test_image_exactly_at_the_cutoff_stays(self, store: Evidence) -> None:
        assert store.purge(T0 + timedelta(days=2)).files_deleted == 0
        assert store.purge(T0 + timedelta(days=2, seconds=1)).files_deleted == 2

    def test_purge_again_finds_nothing(self, store: Evidence) -> None:
        now = T0 + timedelta(days=30)
        assert store.purge(now).files_deleted == 8
        assert store.purge(now).files_deleted == 0
        assert list(store.root.iterdir()) == []

    def test_mtime_does_not_matter(self, store: Evidence) -> None:
        for path in store.root.rglob("*.jpg"):
            os.utime(path, (0, 0))
        assert store.purge(T0 + timedelta(days=1)).files_deleted == 0

    def test_unknown_files_are_reported_and_kept(self, store: Evidence) -> None:
        stray = store.root / "2026-11-20" / "notes.txt"
        stray.write_text("technician was here")
        odd_folder = store.root / "backup"
        odd_folder.mkdir()
        report = store.purge(T0 + timedelta(days=30))
        assert sorted(report.unknown) == sorted([odd_folder, stray])
        assert stray.exists()
        assert (store.root / "2026-11-20").exists()

    def test_stale_temporary_files_go_and_fresh_ones_stay(self, store: Evidence) -> None:
        day = store.root / "2026-11-23"
        image_id = next(p.stem for p in day.glob("*.jpg"))
        temp = day / f".{image_id}.{'b' * 32}.tmp"
        temp.write_bytes(b"partial")
        assert store.purge(T0 + timedelta(days=3, minutes=30)).temp_files_deleted == 0
        report = store.purge(T0 + timedelta(days=3, hours=2))
        assert report.temp_files_deleted == 1
        assert not temp.exists()

    def test_other_lanes_are_not_touched(self, store: Evidence, tmp_path: Path) -> None:
        other = Evidence(store.config, "other-lane")
        kept = saved(other.save_image(frame(), "frame", T0))
        store.purge(T0 + timedelta(days=30))
        assert kept.path.exists()

    def test_lane_without_images(self, tmp_path: Path) -> None:
        report = evidence(tmp_path).purge(T0)
        assert (report.files_deleted, report.unknown, report.errors) == (0, [], [])

    def test_naive_now_is_refused(self, store: Evidence) -> None:
        with pytest.raises(ValueError, match="time: must be timezone-aware"):
            store.purge(datetime(2026, 12, 1))


class TestSiteKey:
    """The pseudonym key is read from its file, created once when missing."""

    def test_created_when_missing_and_read_after(self, tmp_path: Path) -> None:
        path = tmp_path / "keys" / "site.key"
        key = site_key(path)
        assert len(key) == 32
        assert path.stat().st_mode & 0o777 == 0o600
        assert site_key(path) == key
        assert [p.name for p in path.parent.iterdir()] == ["site.key"]

    def test_short_key_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "site.key"
        path.write_bytes(b"12345")
        with pytest.raises(EvidenceError, match=f"pseudonym key file {path}: 5 bytes, needs at"):
            site_key(path)

    def test_unreadable_key_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(EvidenceError, match=f"pseudonym key file {tmp_path}: Is a directory"):
            site_key(tmp_path)


class TestConfig:
    """Evidence and metrics settings are checked on load, naming the field."""

    def test_images_may_not_outlive_plate_text(self) -> None:
        with pytest.raises(ValidationError, match="retention_days: images show the plate"):
            EvidenceConfig(retention_days=60, plate_retention_days=30)

    def test_cutoffs(self) -> None:
        config = EvidenceConfig(retention_days=7, plate_retention_days=30)
        assert config.image_cutoff(T0) == T0 - timedelta(days=7)
        assert config.plate_cutoff(T0) == T0 - timedelta(days=30)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"jpeg_quality": 99}, "jpeg_quality"),
            ({"retention_days": 0}, "retention_days"),
            ({"directry": "/tmp"}, "directry"),
        ],
    )
    def test_bad_evidence_field_is_named(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            EvidenceConfig(**fields)

    def test_metrics_defaults_to_loopback(self) -> None:
        assert MetricsConfig().host == "127.0.0.1"

    def test_metrics_port_is_checked(self) -> None:
        with pytest.raises(ValidationError, match="port"):
            MetricsConfig(port=70000)

    def test_metrics_host_must_be_an_address(self) -> None:
        with pytest.raises(ValidationError, match="not an IP address: 'lane-pc'"):
            MetricsConfig(host="lane-pc")
