"""Evidence images of every passage: JPEG files kept for a retention period, then purged.

Layout::

    <directory>/<lane id>/<YYYY-MM-DD>/<image id>.jpg     (the UTC day of the passage)

An image id is ``<YYYYMMDDTHHMMSSZ>-<role>-<SHA-256 of the JPEG bytes>``, e.g.
``20261120T080000Z-frame-3fa9…``. It names the time of the passage (purge reads it
there, never from the file's mtime, which a copy or a restore changes), the role
(``frame`` or ``plate``) and the content: the ids go into the hash-chained
transaction record, so the record vouches for the images and a replaced file no
longer matches its id. Saving the same image twice writes it once.

Writes are atomic: the JPEG goes to a temporary file in the day's folder, is
fsynced, renamed to its name and the folder fsynced. A crash leaves the whole image
or a hidden ``.tmp`` file, which :meth:`Evidence.purge` removes.

Saving never raises for the lane's sake: a bad image, a full disk or an unwritable
directory is a :class:`SaveError` in the :class:`EvidenceResult`, logged, and the
passage goes on without that image. Saving blocks (JPEG encoding and fsync take
tens of milliseconds): the daemon calls it in a worker thread, never on the event
loop::

    result = await asyncio.to_thread(evidence.save_passage, at, frame, plate_crop)
    txn = txn.model_copy(update={"evidence_image_ids": result.image_ids})

The daemon owns the schedule of the retention work (say, hourly)::

    evidence.purge(now)                                             # images
    store.pseudonymise_plates(config.plate_cutoff(now), site_key(config.pseudonym_key_file))

Plate text in the store is replaced by a keyed pseudonym, the chain still
verifying: see :mod:`contracts.records.sealed`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal, cast
from uuid import uuid4

import cv2
import numpy as np
import numpy.typing as npt

from edge.config.evidence import EvidenceConfig
from edge.store.plates import MIN_PSEUDONYM_KEY_BYTES
from plumbing import log

logger = log.get(__name__)

Role = Literal["frame", "plate"]
Image = npt.NDArray[Any]
"""An image as the camera gives it (checked before encoding)."""
Pixels = npt.NDArray[np.uint8]

MIN_JPEG_QUALITY = 30
QUALITY_STEP = 15
MIN_SIDE_PX = 32
"""An image is not made smaller than this to fit the size cap."""
STALE_TEMP = timedelta(hours=1)
"""A temporary file whose passage is older than this was left by a crash (a save
takes milliseconds), and purge removes it."""

_ID = re.compile(r"^(\d{8}T\d{6}Z)-(frame|plate)-([0-9a-f]{64})$")
_TEMP = re.compile(r"^\.(.+)\.[0-9a-f]{32}\.tmp$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EvidenceError(Exception):
    """The evidence set-up is unusable (e.g. the site key file)."""


@dataclass(frozen=True)
class Saved:
    """One image kept as evidence."""

    image_id: str
    path: Path
    size: int
    """Bytes of the JPEG file."""
    quality: int
    """JPEG quality used (lower than configured when the size cap required it)."""
    scale: float
    """Fraction of the original width kept (1.0 unless the size cap required less)."""


@dataclass(frozen=True)
class SaveError:
    """One image not kept, and why."""

    role: Role
    reason: str

    def __str__(self) -> str:
        return f"{self.role}: {self.reason}"


@dataclass(frozen=True)
class EvidenceResult:
    """What was kept of one passage: ids for the transaction record, and the failures."""

    saved: tuple[Saved, ...]
    errors: tuple[SaveError, ...]

    @property
    def image_ids(self) -> tuple[str, ...]:
        return tuple(s.image_id for s in self.saved)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class PurgeReport:
    """What one purge did."""

    files_deleted: int = 0
    bytes_freed: int = 0
    temp_files_deleted: int = 0
    folders_removed: int = 0
    unknown: list[Path] = field(default_factory=list)
    """Files and folders purge does not recognise, left alone."""
    errors: list[str] = field(default_factory=list)
    """``path: reason`` for every file or folder that could not be removed."""

    @property
    def ok(self) -> bool:
        return not self.errors


class _NotKeptError(Exception):
    """An image cannot be kept; the message says why."""


class Evidence:
    """The evidence images of one lane. Thread-safe; every method blocks (see module doc)."""

    def __init__(self, config: EvidenceConfig, lane_id: str) -> None:
        self.config = config
        self.lane_id = lane_id
        self.root = config.directory / lane_id
        # Purge removes empty day folders; a save must not have one removed under it.
        self._folders = threading.Lock()

    # -- saving ---------------------------------------------------------------

    def save_passage(
        self, at: datetime, frame: Image | None, plate_crop: Image | None
    ) -> EvidenceResult:
        """Keep the frame and the plate crop of a passage at ``at``; ``None`` is skipped."""
        saved: list[Saved] = []
        errors: list[SaveError] = []
        images: tuple[tuple[Role, Image | None], ...] = (("frame", frame), ("plate", plate_crop))
        for role, image in images:
            if image is None:
                continue
            outcome = self.save_image(image, role, at)
            if isinstance(outcome, SaveError):
                errors.append(outcome)
            else:
                saved.append(outcome)
        return EvidenceResult(tuple(saved), tuple(errors))

    def save_image(self, image: object, role: Role, at: datetime) -> Saved | SaveError:
        """Encode and keep one image taken at ``at``; a failure is returned, not raised."""
        try:
            if at.tzinfo is None or at.utcoffset() is None:
                raise _NotKeptError(f"time of the passage is naive: {at.isoformat()}")
            moment = at.astimezone(UTC)
            data, quality, scale = _encode(
                _checked(image), self.config.jpeg_quality, self.config.max_image_kb * 1024
            )
            image_id = f"{moment:%Y%m%dT%H%M%SZ}-{role}-{sha256(data).hexdigest()}"
            path = self._write(moment.date(), image_id, data)
        except _NotKeptError as exc:
            error = SaveError(role, str(exc))
            logger.warning("evidence_not_saved", lane_id=self.lane_id, role=role, reason=str(exc))
            return error
        return Saved(image_id, path, len(data), quality, scale)

    def path_of(self, image_id: str) -> Path:
        """Where the image of ``image_id`` is (or was) kept."""
        match = _ID.match(image_id)
        if match is None:
            raise ValueError(f"image_id: not an evidence image id: {image_id!r}")
        taken = _taken(match.group(1))
        return self.root / taken.date().isoformat() / f"{image_id}.jpg"

    def _write(self, day: date, image_id: str, data: bytes) -> Path:
        folder = self.root / day.isoformat()
        path = folder / f"{image_id}.jpg"
        with self._folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _NotKeptError(f"cannot create {folder}: {exc.strerror or exc}") from None
            if path.is_file():
                return path  # same id, same bytes: already kept
            self._check_free_space(folder)
            temp = folder / f".{image_id}.{uuid4().hex}.tmp"
            try:
                _write_durably(temp, data)
                os.replace(temp, path)
                _fsync_folder(folder)
            except OSError as exc:
                temp.unlink(missing_ok=True)
                raise _NotKeptError(f"cannot write {path}: {exc.strerror or exc}") from None
        return path

    def _check_free_space(self, folder: Path) -> None:
        try:
            free = shutil.disk_usage(folder).free
        except OSError as exc:
            raise _NotKeptError(
                f"cannot check free space at {folder}: {exc.strerror or exc}"
            ) from None
        if free < self.config.min_free_mb * 2**20:
            raise _NotKeptError(
                f"disk nearly full: {free // 2**20} MiB free at {folder}, "
                f"min_free_mb is {self.config.min_free_mb}"
            )

    # -- retention ------------------------------------------------------------

    def purge(self, now: datetime) -> PurgeReport:
        """Delete this lane's images taken before ``now`` minus the retention period.

        Also removes temporary files left by a crash and day folders left empty.
        Files it does not recognise are reported and left alone. Never raises for
        a file it cannot remove: that goes into the report's ``errors``.
        """
        cutoff = self.config.image_cutoff(_utc(now))
        stale = _utc(now) - STALE_TEMP  # later than the cutoff: retention is days
        report = PurgeReport()
        for folder in self._day_folders(report):
            if date.fromisoformat(folder.name) > stale.date():
                continue
            for path in sorted(folder.iterdir()):
                self._purge_file(path, cutoff, stale, report)
            with self._folders:
                if not any(folder.iterdir()):
                    try:
                        folder.rmdir()
                        report.folders_removed += 1
                    except OSError as exc:
                        report.errors.append(f"{folder}: {exc.strerror or exc}")
        logger.info(
            "evidence_purged",
            lane_id=self.lane_id,
            before=cutoff.isoformat(),
            files=report.files_deleted,
            bytes=report.bytes_freed,
            temp_files=report.temp_files_deleted,
            unknown=len(report.unknown),
            errors=len(report.errors),
        )
        return report

    def _day_folders(self, report: PurgeReport) -> Iterator[Path]:
        try:
            entries = sorted(self.root.iterdir())
        except FileNotFoundError:
            return
        except OSError as exc:
            report.errors.append(f"{self.root}: {exc.strerror or exc}")
            return
        for entry in entries:
            if entry.is_dir() and _DAY.match(entry.name):
                yield entry
            else:
                report.unknown.append(entry)

    def _purge_file(
        self, path: Path, cutoff: datetime, stale: datetime, report: PurgeReport
    ) -> None:
        temp = _TEMP.match(path.name)
        image = _ID.match(temp.group(1) if temp else path.stem)
        if image is None or (temp is None and path.suffix != ".jpg") or not path.is_file():
            report.unknown.append(path)
            return
        taken = _taken(image.group(1))
        if taken >= (stale if temp else cutoff):
            return
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError as exc:
            report.errors.append(f"{path}: {exc.strerror or exc}")
            return
        if temp:
            report.temp_files_deleted += 1
        else:
            report.files_deleted += 1
            report.bytes_freed += size


def site_key(path: Path) -> bytes:
    """The site's pseudonym key from ``path``, created with 32 random bytes when missing.

    Creation is atomic (a hard link of a complete temporary file), so lanes of one
    site starting together all end up with the same key.
    """
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = _create_key(path)
    except OSError as exc:
        raise EvidenceError(f"pseudonym key file {path}: {exc.strerror or exc}") from None
    if len(key) < MIN_PSEUDONYM_KEY_BYTES:
        raise EvidenceError(
            f"pseudonym key file {path}: {len(key)} bytes, needs at least {MIN_PSEUDONYM_KEY_BYTES}"
        )
    return key


def _create_key(path: Path) -> bytes:
    key = secrets.token_bytes(32)
    temp = path.with_name(f".{path.name}.{uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_durably(temp, key, mode=0o600)
        try:
            os.link(temp, path)
        except FileExistsError:
            key = path.read_bytes()  # another lane created it first
        else:
            _fsync_folder(path.parent)
            logger.info("pseudonym_key_created", path=str(path))
    except OSError as exc:
        raise EvidenceError(f"pseudonym key file {path}: {exc.strerror or exc}") from None
    finally:
        temp.unlink(missing_ok=True)
    return key


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"time: must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _taken(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _checked(image: object) -> Pixels:
    """``image`` as OpenCV can encode it: uint8, gray or BGR, not empty."""
    if not isinstance(image, np.ndarray):
        raise _NotKeptError(f"not an image array: got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise _NotKeptError(f"dtype {image.dtype}, expected uint8")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise _NotKeptError(f"shape {image.shape}, expected (height, width) or (height, width, 3)")
    if image.size == 0:
        raise _NotKeptError(f"empty image: shape {image.shape}")
    return cast(Pixels, image)


def _encode(image: Pixels, quality: int, max_bytes: int) -> tuple[bytes, int, float]:
    """JPEG bytes under ``max_bytes``: lower quality first, then halve the resolution."""
    width = image.shape[1]
    current = image
    while True:
        for q in range(quality, MIN_JPEG_QUALITY - 1, -QUALITY_STEP):
            try:
                ok, encoded = cv2.imencode(".jpg", current, [cv2.IMWRITE_JPEG_QUALITY, q])
            except cv2.error as exc:
                raise _NotKeptError(
                    f"JPEG encoding failed for shape {current.shape}: {exc}"
                ) from None
            if not ok:
                raise _NotKeptError(f"JPEG encoding failed for shape {current.shape}")
            if encoded.size <= max_bytes:
                return encoded.tobytes(), q, current.shape[1] / width
        height, now_width = current.shape[:2]
        if min(height, now_width) // 2 < MIN_SIDE_PX:
            raise _NotKeptError(
                f"does not fit in {max_bytes // 1024} KiB even at quality "
                f"{MIN_JPEG_QUALITY} and {now_width}x{height} px"
            )
        half = cv2.resize(current, (now_width // 2, height // 2), interpolation=cv2.INTER_AREA)
        current = cast(Pixels, half)


def _write_durably(path: Path, data: bytes, mode: int = 0o640) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
