"""The lane id and plaza id of each lane file, read without the lane's own models.

central must not import ``edge`` (import-linter), so this reads only the keys the
broker needs, as the lane files write them: the lane file's ``id`` and ``plaza``
(the path of the plaza file, relative to the lane file), and the plaza file's
``id``. Ids are checked against :data:`contracts.ids.SITE_ID_PATTERN`, the pattern
the lane's own loader and the topic tree use. Everything else in the files is the
lane's business (``lanewarden config check`` validates it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.ids import SITE_ID_PATTERN
from plumbing.config import ConfigError, read_toml

_SITE_ID = re.compile(SITE_ID_PATTERN)


class LaneFilesError(Exception):
    """One or more lane files cannot give a lane id and plaza id; one line per fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class LaneRef:
    """What the broker needs of one lane: its ids and where they came from."""

    lane_id: str
    plaza_id: str
    path: Path


def lane_files(paths: Iterable[Path]) -> list[Path]:
    """The lane files named: each file as given, each directory's ``*.toml`` in name order."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.toml") if p.is_file())
            if not found:
                problems.append(f"{path}: no lane files (*.toml) in this directory")
            files.extend(found)
        else:
            files.append(path)
    if problems:
        raise LaneFilesError(problems)
    return files


def read_lanes(paths: Iterable[Path]) -> list[LaneRef]:
    """Every lane of ``paths`` (files or directories); all faults at once in :class:`LaneFilesError`."""
    lanes: list[LaneRef] = []
    problems: list[str] = []
    for path in lane_files(paths):
        try:
            lanes.append(read_lane(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    first: dict[str, LaneRef] = {}
    for lane in lanes:
        if lane.lane_id in first:
            problems.append(
                f"{lane.path}: id: lane {lane.lane_id!r} is also the id of "
                f"{first[lane.lane_id].path} (lane ids are broker user names: unique)"
            )
        else:
            first[lane.lane_id] = lane
    if problems:
        raise LaneFilesError(problems)
    return lanes


def read_lane(path: Path) -> LaneRef:
    """The ids of one lane file and its plaza file; :class:`ConfigError` naming file and key."""
    data = read_toml(path)
    _expect_kind(path, data, "lane")
    lane_id = _site_id(path, data, "id", "lane id")
    plaza_ref = data.get("plaza")
    if not isinstance(plaza_ref, str) or not plaza_ref:
        raise ConfigError(path, [f"plaza: {_missing_or(plaza_ref, 'the path of the plaza file')}"])
    plaza_path = path.parent / plaza_ref
    try:
        plaza = read_toml(plaza_path)
        _expect_kind(plaza_path, plaza, "plaza")
        plaza_id = _site_id(plaza_path, plaza, "id", "plaza id")
    except ConfigError as exc:
        # Named from the lane file too: the fault may be the lane's plaza path.
        raise ConfigError(path, [f"plaza: {line}" for line in exc.problems]) from None
    return LaneRef(lane_id=lane_id, plaza_id=plaza_id, path=path)


def _expect_kind(path: Path, data: dict[str, Any], kind: str) -> None:
    # The lane's loader defaults kind to the file's kind, so a missing key is fine.
    found = data.get("kind", kind)
    if found != kind:
        raise ConfigError(path, [f"kind: {found!r}, expected {kind!r} (a {kind} file)"])


def _site_id(path: Path, data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ConfigError(path, [f"{key}: {_missing_or(value, f'the {what} (a string)')}"])
    if not _SITE_ID.match(value):
        raise ConfigError(
            path, [f"{key}: {value!r} is not a valid {what} (pattern {SITE_ID_PATTERN})"]
        )
    return value


def _missing_or(value: object, expected: str) -> str:
    if value is None:
        return f"missing; expected {expected}"
    return f"{value!r} is not {expected}"
