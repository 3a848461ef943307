"""The data manifest: every real labelled set, split into train and validation by plate.

A plate string's side is fixed by a salted SHA-1 of the normalised string, so a
plate is on the same side in every set, whatever the set's order or size, and
the split never changes when sets grow. The validation parts are never read by
training or by threshold tuning; :func:`validation_plates` lets the string
pools of the renderer leave those plates out too.

Licences decide what may train weights: ``br_crops`` is validation only (its
README), and the OpenALPR sets of ``datasets/`` carry the same AGPL-3.0, so
their train parts may tune thresholds but never train the shipped weights
(``weights`` false). Paths are relative to the shared data folder
(``../shared`` from the project checkout); no image is ever committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.text import normalise

MANIFEST = Path(__file__).resolve().parent / "manifest.json"
SALT = "lanewarden-plates-v1"
VALIDATION_SHARE = 0.4
PARTS = ("train", "validation")


@dataclass(frozen=True)
class SetPolicy:
    """How one real set may be used."""

    folder: str
    licence: str
    #: The train part may train weights (else only thresholds may see it).
    weights: bool
    #: Every image is validation (the set may never train or tune anything).
    validation_only: bool = False


POLICIES: tuple[SetPolicy, ...] = (
    SetPolicy("datasets/ccpd_fullframe", "MIT", weights=True),
    SetPolicy("datasets/lprnet_cn_crops", "Apache-2.0", weights=True),
    SetPolicy("datasets/openalpr_fullframe", "AGPL-3.0", weights=False),
    SetPolicy("datasets/openalpr_us_crops", "AGPL-3.0", weights=False),
    SetPolicy("plates-train/br_crops", "AGPL-3.0", weights=False, validation_only=True),
    SetPolicy("plates-train/ccpd_extra_fullframe", "MIT", weights=True),
    SetPolicy("plates-train/cn_crops_extra", "Apache-2.0", weights=True),
    SetPolicy(
        "plates-train/easypr_cn_fullframe", "GDSL-0.1 images; trained models free", weights=True
    ),
)


class ManifestError(ValueError):
    """A manifest or a labels file that cannot be used as it is."""


Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Entry:
    """One labelled image: path relative to the shared folder, plate, box (full frames)."""

    path: str
    plate: str
    box: Box | None = None


@dataclass(frozen=True)
class DataSet:
    name: str
    policy: SetPolicy
    train: tuple[Entry, ...]
    validation: tuple[Entry, ...]

    @property
    def crops(self) -> bool:
        return all(e.box is None for e in (*self.train, *self.validation))

    def part(self, name: str) -> tuple[Entry, ...]:
        if name not in PARTS:
            raise ManifestError(f"no part {name!r}; parts are {', '.join(PARTS)}")
        return self.train if name == "train" else self.validation


def is_validation(plate: str) -> bool:
    """Whether ``plate`` belongs to the validation side (the same in every set)."""
    digest = hashlib.sha1(f"{SALT}:{normalise(plate)}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < VALIDATION_SHARE


def read_labels(shared: Path, folder: str) -> list[Entry]:
    """The labelled images of ``shared/folder/labels.csv`` (crops, or frames with boxes)."""
    from models.bench import BenchError, samples

    if not (shared / folder / "labels.csv").is_file():
        raise ManifestError(
            f"{shared / folder}: no labels.csv (is {shared} the shared data folder?)"
        )
    try:
        found = samples(shared / folder)
    except BenchError as exc:
        raise ManifestError(str(exc)) from None
    out = []
    for sample in found:
        plate = normalise(sample.plate)
        if not plate:
            raise ManifestError(f"{shared / folder}/labels.csv: {sample.path.name} has no plate")
        out.append(Entry(f"{folder}/{sample.path.name}", plate, sample.box))
    return out


def build(shared: Path, policies: Sequence[SetPolicy] = POLICIES) -> list[DataSet]:
    """Every set of ``policies`` read from ``shared`` and split by plate."""
    sets = []
    for policy in policies:
        entries = sorted(read_labels(shared, policy.folder), key=lambda e: e.path)
        validation = tuple(e for e in entries if policy.validation_only or is_validation(e.plate))
        train = tuple(e for e in entries if e not in validation)
        sets.append(DataSet(policy.folder.rsplit("/", 1)[-1], policy, train, validation))
    return sets


def to_json(sets: Iterable[DataSet]) -> str:
    """The manifest as JSON text, one image a line (so that a change reads as a diff)."""
    head: dict[str, Any] = {
        "version": 1,
        "split": {"hash": "sha1", "salt": SALT, "validation_share": VALIDATION_SHARE},
        "note": "Paths are relative to the shared data folder (../shared). Generated by "
        "`lanewarden plates manifest`; the validation parts are never trained or tuned on.",
    }
    blocks = []
    for s in sets:
        fields = {
            "name": s.name,
            "folder": s.policy.folder,
            "licence": s.policy.licence,
            "weights": s.policy.weights,
            "validation_only": s.policy.validation_only,
        }
        lines = [
            f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()
        ]
        for part in PARTS:
            rows = ",\n".join(
                "   " + json.dumps(_entry_json(e), ensure_ascii=False) for e in s.part(part)
            )
            lines.append(
                f"  {json.dumps(part)}: [\n{rows}\n  ]" if rows else f"  {json.dumps(part)}: []"
            )
        blocks.append(" {\n" + ",\n".join(lines) + "\n }")
    top = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return top + ',\n "sets": [\n' + ",\n".join(blocks) + "\n ]\n}\n"


def _entry_json(entry: Entry) -> list[Any]:
    return [entry.path, entry.plate, *(entry.box or ())]


def load(path: Path = MANIFEST) -> list[DataSet]:
    """The sets of a manifest file; ManifestError naming the file when it is malformed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        sets = []
        for s in doc["sets"]:
            policy = SetPolicy(
                s["folder"], s["licence"], bool(s["weights"]), bool(s["validation_only"])
            )
            parts = [tuple(_entry(item) for item in s[part]) for part in PARTS]
            sets.append(DataSet(s["name"], policy, parts[0], parts[1]))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc})") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ManifestError(f"{path}: not a plate manifest ({exc!r})") from None
    return sets


def _entry(item: list[Any]) -> Entry:
    if len(item) not in (2, 6):
        raise ValueError(f"entry {item!r} has neither 2 nor 6 fields")
    box = (int(item[2]), int(item[3]), int(item[4]), int(item[5])) if len(item) == 6 else None
    return Entry(str(item[0]), str(item[1]), box)


def validation_plates(sets: Iterable[DataSet]) -> frozenset[str]:
    """Every plate string of a validation part (kept out of synthetic plates too)."""
    return frozenset(e.plate for s in sets for e in s.validation)


def check(sets: Sequence[DataSet]) -> list[str]:
    """Problems with a split: a plate on both sides, or a validation-only set with a train part."""
    problems = []
    train = {e.plate for s in sets for e in s.train}
    leaked = sorted(train & validation_plates(sets))
    if leaked:
        problems.append(f"plates on both sides: {', '.join(leaked[:10])}")
    problems += [
        f"{s.name}: validation only, but has {len(s.train)} train images"
        for s in sets
        if s.policy.validation_only and s.train
    ]
    return problems
