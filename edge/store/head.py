"""The head file: a small copy of every lane's head, beside the store, to notice a lost tail.

SQLite recovers a WAL up to its last intact commit and says nothing about what it
dropped: a torn ``-wal`` or an older copy of the store opens cleanly, passes
``quick_check`` and its chains verify, yet records the lane already reported
durable are gone, and the next records would reuse their ``lane_seq``. So after
every commit that moves a head, the store writes ``DB-head`` (JSON): for each lane
and stream the last ``lane_seq``, its hash and central's ack. A start compares the
store with it (:func:`shortfalls`).

The file is written after the commit, never before: killed in between, the store
is one commit ahead of its head file, which is allowed as long as the record the
head file names is still there with that hash. Behind it is not. It is written in
place, into one of two slots (see :func:`write_head_file` for the cost of the
alternatives). Each document carries a generation that grows with every
head-moving commit, and the newest whole slot is the one read, so several daemons
sharing one store, each writing the heads of its own commit, leave the file at
most behind a writer's newest commit, never ahead.

``acked_seq`` is central's ack as this store recorded it; once sync exists
(issue 16) central's own ack, received at start, is checked the same way: a
store whose last ``lane_seq`` is below what central has acknowledged lost its tail.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.store.streams import STREAMS, StreamName

FORMAT = "lanewarden store head"
VERSION = 1


class HeadFileError(Exception):
    """The head file cannot be read or does not hold what the store writes there."""


@dataclass(frozen=True)
class Head:
    """Where one stream of one lane ends."""

    lane_id: str
    stream: StreamName
    last_seq: int
    last_hash: str
    acked_seq: int

    def __str__(self) -> str:
        return f"lane {self.lane_id} {self.stream}"


def head_file(db_path: Path) -> Path:
    """Where the head file of the store at ``db_path`` lives (``site.db-head``)."""
    return db_path.with_name(db_path.name + "-head")


def read_heads(conn: sqlite3.Connection) -> list[Head]:
    """Every head in the store (none in a store that has no ``streams`` table yet)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'streams'"
    ).fetchone()
    if exists is None:
        return []
    rows = conn.execute(
        "SELECT lane_id, stream, last_seq, last_hash, acked_seq FROM streams "
        "ORDER BY lane_id, stream"
    ).fetchall()
    return [Head(*row) for row in rows]


SLOT_BYTES = 4096
"""The smallest slot; a store whose heads need more gets its file rewritten with bigger slots."""


def generation(heads: Iterable[Head]) -> int:
    """Grows with every commit that moves a head (sequences and acks only move forward)."""
    return sum(head.last_seq + head.acked_seq for head in heads)


def encode(heads: list[Head]) -> bytes:
    """One slot's document: the heads, their generation, and a checksum of both.

    The checksum is of the document's canonical JSON without it; it is added as
    the last member, so the document is serialised once (this runs per record).
    """
    body: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "generation": generation(heads),
        "heads": [
            {
                "lane_id": head.lane_id,
                "stream": head.stream,
                "last_seq": head.last_seq,
                "last_hash": head.last_hash,
                "acked_seq": head.acked_seq,
            }
            for head in heads
        ],
    }
    canonical = _canonical(body)
    digest = hashlib.sha256(canonical).hexdigest()
    return canonical[:-1] + f',"sha256":"{digest}"}}\n'.encode()


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def write_head_file(path: Path, heads: list[Head]) -> None:
    """Write the heads into their slot of the head file.

    The file has two slots of equal size; a document goes into the slot of its
    generation's parity, so the other slot keeps an older, whole document while
    this one is written (a write torn by a power cut leaves the older one to read).
    A new file, or one too small for the heads, is written whole: temporary file,
    fsync, rename.

    The slot is not fsynced. Once written it is in the page cache, so a killed
    daemon never loses it; a power cut can leave the file up to the kernel's
    writeback delay behind the store, which reads as "the store is ahead", never
    as a loss. An fsync would not make the file catch more: a disk that honours
    flushes never loses a committed WAL frame to a power cut, and one that does
    not loses the head file's flush alike. The damage the file is for (a WAL torn
    later, a partial copy, an older backup) comes long after writeback. And the
    fsync is the cost: per record, a temporary file fsynced and renamed made
    ``bench store`` about three times slower, an in-place ``fdatasync`` twice.
    """
    document = encode(heads)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        _replace(path, document)
        return
    try:
        slot = os.fstat(fd).st_size // 2
        if slot < max(len(document), SLOT_BYTES):
            _replace(path, document)
            return
        os.pwrite(fd, document.ljust(slot, b" "), (generation(heads) % 2) * slot)
    finally:
        os.close(fd)


def replace_head_file(path: Path, heads: list[Head]) -> None:
    """Write a new head file with both slots holding ``heads`` (temporary file, fsync, rename).

    Unlike :func:`write_head_file`, an older head file's slots do not survive,
    even one with a higher generation: for ``lanewarden store write-head``.
    """
    _replace(path, encode(heads))


def _replace(path: Path, document: bytes) -> None:
    slot = SLOT_BYTES
    while slot < len(document):
        slot *= 2
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(document.ljust(slot, b" ") * 2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_head_file(path: Path) -> list[Head] | None:
    """The heads of the newest whole slot of the head file; None when there is no file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HeadFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    half = len(data) // 2
    if half < SLOT_BYTES or len(data) % 2:
        raise HeadFileError(
            f"{path}: damaged: {len(data)} bytes, not two slots of {SLOT_BYTES} bytes or more"
        )
    found: list[tuple[int, list[Head]]] = []
    problems: list[str] = []
    for number, slot in enumerate((data[:half], data[half:]), start=1):
        try:
            found.append(_parse(slot))
        except HeadFileError as exc:
            problems.append(f"slot {number}: {exc}")
    if not found:
        raise HeadFileError(f"{path}: damaged: {'; '.join(problems)}")
    return max(found, key=lambda generation_heads: generation_heads[0])[1]


def _parse(slot: bytes) -> tuple[int, list[Head]]:
    try:
        body = json.loads(slot)
        if not isinstance(body, dict):
            raise TypeError("not an object")
        written = body.pop("sha256")
        if body.get("format") != FORMAT or body.get("version") != VERSION:
            raise HeadFileError(f"not a lanewarden head file (format {VERSION})")
        if written != hashlib.sha256(_canonical(body)).hexdigest():
            raise HeadFileError("its checksum does not match its content")
        return int(body["generation"]), [_head(item) for item in body["heads"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise HeadFileError(f"not the JSON the store writes ({exc})") from None


def _head(item: Any) -> Head:
    head = Head(**item)
    numbers = (head.last_seq, head.acked_seq)
    texts = (head.lane_id, head.last_hash)
    if (
        head.stream not in STREAMS
        or not all(type(n) is int for n in numbers)
        or not all(isinstance(t, str) for t in texts)
    ):
        raise TypeError(f"not a head: {item!r}")
    return head


def shortfalls(conn: sqlite3.Connection, written: list[Head] | None, path: Path) -> list[str]:
    """How the store falls short of the head file at ``path`` (empty when it does not).

    ``written`` is what :func:`load_head_file` read, before the caller's read
    transaction began, so that a live writer can only put the store ahead of it.
    """
    stored = {(head.lane_id, head.stream): head for head in read_heads(conn)}
    if written is None:
        if not stored:
            return []
        lanes = ", ".join(sorted({lane for lane, _ in stored}))
        return [
            f"head file {path} is missing, but the store has records (lanes {lanes}): "
            "it was deleted, or the store was copied without it"
        ]
    problems = []
    for head in written:
        now = stored.get((head.lane_id, head.stream))
        last = 0 if now is None else now.last_seq
        if last < head.last_seq:
            problems.append(
                f"{head}: the head file records lane_seq {head.last_seq} "
                f"(hash {head.last_hash[:12]}), the store ends at {last}: "
                f"lane_seq {last + 1} to {head.last_seq} are lost (a torn WAL or an older copy)"
            )
            continue
        found = _hash_at(conn, head)
        if found != head.last_hash:
            what = "is missing" if found is None else f"has hash {found[:12]}"
            problems.append(
                f"{head} lane_seq {head.last_seq}: {what}, the head file records "
                f"{head.last_hash[:12]}: the store is not the one its head file was written for"
            )
    return problems


def _hash_at(conn: sqlite3.Connection, head: Head) -> str | None:
    table = STREAMS[head.stream].table
    row = conn.execute(
        f"SELECT hash FROM {table} WHERE lane_id = ? AND lane_seq = ?",  # noqa: S608 - a constant
        (head.lane_id, head.last_seq),
    ).fetchone()
    return None if row is None else str(row[0])
