"""What a batch means against what is already held: new, duplicate, conflicting, chained.

Pure functions over the batch and the stored ``(hash, prev_hash)`` of the
sequence numbers around it, so that the rules are tested without a database and
the store only has to fetch that neighbourhood (``first - 1 .. last + 1``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts.records.sealed import GENESIS_HASH, SealedRecord


@dataclass(frozen=True)
class Held:
    """The chain fields of a record already stored."""

    hash: str
    prev_hash: str


@dataclass(frozen=True)
class Sorting:
    """A batch split against the stored records."""

    new: tuple[SealedRecord, ...]
    duplicates: int
    conflicts: tuple[int, ...]
    """lane_seq held with a different hash: the stored record stays, this one is refused."""


@dataclass(frozen=True)
class ChainBreak:
    """``lane_seq``'s ``prev_hash`` is not the hash held for ``lane_seq - 1``."""

    lane_seq: int
    prev_hash: str
    expected: str


def sort_batch(records: Iterable[SealedRecord], held: Mapping[int, Held]) -> Sorting:
    """Which records are new, which are held already, and which contradict what is held."""
    new: list[SealedRecord] = []
    duplicates = 0
    conflicts: list[int] = []
    for record in records:
        stored = held.get(record.lane_seq)
        if stored is None:
            new.append(record)
        elif stored.hash == record.hash:
            duplicates += 1
        else:
            conflicts.append(record.lane_seq)
    return Sorting(tuple(new), duplicates, tuple(conflicts))


def chain_breaks(new: Sequence[SealedRecord], held: Mapping[int, Held]) -> tuple[ChainBreak, ...]:
    """Breaks that storing ``new`` beside ``held`` reveals, in lane_seq order.

    Each link is checked once, when the second of its two records arrives: a new
    record against its predecessor (held, or new in the same batch; the genesis
    hash for lane_seq 1), and a record held before against a new predecessor
    that arrived after it (a gap being filled).
    """
    now = dict(held)
    now.update((r.lane_seq, Held(r.hash, r.prev_hash)) for r in new)
    breaks: dict[int, ChainBreak] = {}
    for record in new:
        seq = record.lane_seq
        before = GENESIS_HASH if seq == 1 else getattr(now.get(seq - 1), "hash", None)
        if before is not None and record.prev_hash != before:
            breaks[seq] = ChainBreak(seq, record.prev_hash, before)
        after = held.get(seq + 1)
        if after is not None and after.prev_hash != record.hash:
            breaks[seq + 1] = ChainBreak(seq + 1, after.prev_hash, record.hash)
    return tuple(breaks[seq] for seq in sorted(breaks))


def contiguous_end(acked: int, held: Iterable[int]) -> int:
    """The highest lane_seq reached from ``acked`` through consecutive held numbers."""
    present = set(held)
    while acked + 1 in present:
        acked += 1
    return acked
