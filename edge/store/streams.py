"""The two sequenced, hash-chained streams of a lane and how their records map to rows.

A row holds a record's canonical values, one column per field; list and object
fields are kept as canonical JSON text. :func:`record_from_row` is strict, so a
row edited by hand either parses to exactly what :func:`row_of` would store or
fails with the field named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar

from contracts.canonical import canonical_json
from contracts.records.model import RecordError
from contracts.records.sealed import LaneEventRecord, SealedRecord, TransactionRecord
from edge.store.schema import EVENT_COLUMNS, TRANSACTION_COLUMNS

StreamName = Literal["txn", "event"]
SEAL_COLUMNS = frozenset(
    {
        "lane_seq",
        "prev_hash",
        "hash",
        "record_version",
        "plate_nonce",
        "plate_digest",
        "plate_pseudonym",
    }
)
"""Columns the store writes when sealing (or pseudonymising), not decided by the lane."""
R = TypeVar("R", bound=SealedRecord)


@dataclass(frozen=True)
class Stream(Generic[R]):
    name: StreamName
    table: str
    columns: tuple[str, ...]
    json_columns: frozenset[str]
    record: type[R]
    versioned: bool
    """Whether several records may share an id (versions of one transaction)."""

    # Table and column names below are this module's constants, never input.
    @cached_property
    def column_list(self) -> str:
        return ", ".join(f'"{c}"' for c in self.columns)

    @cached_property
    def insert(self) -> str:
        marks = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.table} ({self.column_list}) VALUES ({marks})"  # noqa: S608

    @cached_property
    def select(self) -> str:
        return f"SELECT {self.column_list} FROM {self.table}"  # noqa: S608

    @cached_property
    def select_by_id(self) -> str:
        return f"{self.select} WHERE id = ? ORDER BY lane_seq"

    @cached_property
    def select_latest_by_id(self) -> str:
        return f"{self.select} WHERE id = ? ORDER BY lane_seq DESC LIMIT 1"

    @cached_property
    def select_range(self) -> str:
        """Rows of a lane from a lane_seq on, at most a limit of them."""
        return f"{self.select} WHERE lane_id = ? AND lane_seq >= ? ORDER BY lane_seq LIMIT ?"

    def content_of(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """The values of a row that the lane decided (everything but the seal)."""
        return tuple(v for c, v in zip(self.columns, row, strict=True) if c not in SEAL_COLUMNS)

    def row_of(self, canonical: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row storing a record's canonical values, in column order."""
        row = [canonical[c] for c in self.columns]
        for index in self._json_indexes:
            row[index] = canonical_json(row[index])
        return tuple(row)

    @cached_property
    def _json_indexes(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c in self.json_columns)

    def record_from_row(self, row: Sequence[Any], *, check_hash: bool = False) -> R:
        values = dict(zip(self.columns, row, strict=True))
        for column in self.json_columns:
            try:
                values[column] = json.loads(values[column])
            except (TypeError, json.JSONDecodeError):
                raise RecordError(
                    self.record.what, [f"{column}: stored value is not valid JSON"]
                ) from None
        return self.record.from_canonical(values, check_hash=check_hash)


TXN: Stream[TransactionRecord] = Stream(
    name="txn",
    table="transactions",
    columns=TRANSACTION_COLUMNS,
    json_columns=frozenset({"fee_items", "evidence_image_ids", "flags"}),
    record=TransactionRecord,
    versioned=True,
)
EVENT: Stream[LaneEventRecord] = Stream(
    name="event",
    table="lane_events",
    columns=EVENT_COLUMNS,
    json_columns=frozenset({"detail"}),
    record=LaneEventRecord,
    versioned=False,
)
STREAMS: dict[StreamName, Stream[Any]] = {"txn": TXN, "event": EVENT}
