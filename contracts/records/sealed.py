"""Sealed records: the hash chain and the plate commitment.

One definition, one version (``RECORD_VERSION``). A lane builds a :class:`Transaction`
(what it decided) or a :class:`LaneEvent` (what happened); the store seals it into a
:class:`TransactionRecord` or :class:`LaneEventRecord` by assigning the lane's next
``lane_seq`` and chaining it to the lane's previous record of the same stream:

    hash = SHA-256(canonical JSON of every field except ``hash``, ``prev_hash`` included)

The canonical JSON has sorted keys, no whitespace, UTF-8, times as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, fixed width so that text order is time order),
UUIDs in lower-case hyphenated form and sorted, de-duplicated flags. Central parses
MQTT payloads with :meth:`SealedRecord.from_json`, which is strict about types and
checks the hash; every problem is reported as ``field: what is wrong``.

Money is an integer count of the currency's minor unit. A refund or correction is a
new record whose ``references`` names the original; only such a record may carry a
negative total.

Plates and the chain (record version 2). Plate text must not be kept for ever (it is
personal data), but the chain must keep proving that no record was changed. So the
hash does not cover the plate text itself but a salted commitment to it::

    plate_digest = SHA-256(plate_nonce || plate text)

``plate_nonce`` is 16 random bytes the store draws when it seals a record with a
plate. While the text is kept, the verifier recomputes the commitment from the
text and the nonce, so a changed plate is a hash mismatch as before. When the
plate's retention ends, :meth:`TransactionRecord.pseudonymised` drops the text and
the nonce, stores the commitment itself as ``plate_digest`` and adds
``plate_pseudonym`` (``edge.store.plates.plate_pseudonym``, a keyed hash of the
plate): the hash still verifies
(it covered the commitment all along), the text cannot be brute-forced back from
the commitment (the nonce is gone), and equal plates keep equal pseudonyms for
statistics. A plain, unsalted hash would not do: plates are few enough to be
enumerated. What the chain cannot cover is the pseudonym itself (it did not exist
when the record was sealed); it is checked against the site key, not the chain.
Version 1 records (hash over the plate text, no commitment) still verify and are
never pseudonymised.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, cast

from pydantic import Field, ValidationError, model_validator

from contracts.canonical import canonical_json, sha256_of
from contracts.ids import HashHex
from contracts.records.lane_event import LaneEvent
from contracts.records.model import RecordError, RecordModel, problems
from contracts.records.transaction import Transaction

RECORD_VERSION: Literal[2] = 2
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of a lane's first record of a stream."""


def plate_commitment(nonce: str, text: str) -> str:
    """SHA-256 of the nonce's bytes and the exact plate text: what the hash covers of it."""
    return hashlib.sha256(bytes.fromhex(nonce) + text.encode()).hexdigest()


class SealedRecord(RecordModel):
    """Fields and behaviour that every sealed (sequenced, chained) record shares."""

    lane_seq: int = Field(ge=1, description="Per-lane sequence of this stream, no gaps.")
    prev_hash: HashHex = Field(description="hash of the lane's previous record (or zeros).")
    hash: HashHex = Field(description="SHA-256 over every other field, prev_hash included.")
    record_version: Literal[1, 2] = Field(
        RECORD_VERSION, description="Contract version (RECORD_VERSION)."
    )

    @classmethod
    def seal(
        cls, content: RecordModel, lane_seq: int, prev_hash: str
    ) -> tuple[Self, dict[str, Any]]:
        """The sealed record of already validated ``content``, and its canonical values.

        The canonical values come along because the store writes them; dumping the
        record a second time would cost as much as the sealing itself.
        """
        if not issubclass(cls, type(content)):
            raise TypeError(f"a {type(content).__name__} cannot be sealed as a {cls.__name__}")
        body = content.canonical()
        sealing = cls._seal_fields(body)
        sealing.update(lane_seq=lane_seq, prev_hash=prev_hash, record_version=RECORD_VERSION)
        body.update(sealing)
        body["hash"] = sha256_of(cls._hashed(body))
        fields: dict[str, Any] = content.__dict__.copy()
        fields.update(sealing)
        # The plugin types model_construct as returning the declaring class, not Self.
        record = cast(Self, cls.model_construct(**fields, hash=body["hash"]))
        return record, body

    @classmethod
    def _seal_fields(cls, body: dict[str, Any]) -> dict[str, Any]:
        """Fields the seal adds to the content besides the chain's (none by default)."""
        return {}

    @classmethod
    def _hashed(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        """What the hash covers of a record's canonical values: a new dict, ``hash`` left out.

        A copy with keys popped, not a comprehension: at ingest's rate (every record of
        every batch) the comprehension cost as much as encoding the record.
        """
        covered = dict(body)
        covered.pop("hash", None)
        return covered

    def computed_hash(self) -> str:
        """The hash this record's content should carry."""
        return self.hash_of(self.canonical())

    def hash_of(self, canonical: Mapping[str, Any]) -> str:
        """The hash that ``canonical`` (this record's :meth:`canonical` values) should carry.

        For a caller that needs the values anyway (ingest checks the hash, then stores
        the canonical text): one ``model_dump`` instead of two. ``canonical`` is not changed.
        """
        return sha256_of(self._hashed(canonical))

    def to_json(self) -> str:
        return canonical_json(self.canonical())

    @classmethod
    def from_json(cls, data: str | bytes, *, check_hash: bool = True) -> Self:
        """Parse a record strictly (no type coercion) and, by default, check its hash."""
        try:
            record = cls.model_validate_json(data, strict=True)
        except ValidationError as exc:
            raise RecordError(cls.what, problems(exc)) from None
        if check_hash and record.hash != record.computed_hash():
            raise RecordError(cls.what, ["hash: does not match the record's content"])
        return record

    @classmethod
    def from_canonical(cls, values: Mapping[str, Any], *, check_hash: bool = True) -> Self:
        """Parse canonical JSON values (e.g. a stored row with its JSON columns decoded)."""
        return cls.from_json(canonical_json(dict(values)), check_hash=check_hash)


_PLATE_SEAL = ("plate_nonce", "plate_digest", "plate_pseudonym")
_UNCOVERED_V1 = ("hash", *_PLATE_SEAL)
_UNCOVERED = ("hash", "plate_text", *_PLATE_SEAL)
"""Keys a record's hash does not cover (version 1, version 2: the plate through its digest)."""


class TransactionRecord(Transaction, SealedRecord):
    """A sealed transaction: the unit stored, synced and reconciled."""

    plate_nonce: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        None, description="Salt of the plate commitment; dropped with the plate text."
    )
    plate_digest: HashHex | None = Field(
        None, description="The plate commitment, stored once the plate text is pseudonymised."
    )
    plate_pseudonym: HashHex | None = Field(
        None, description="HMAC-SHA256 of the plate under the site key, after its retention."
    )

    @model_validator(mode="after")
    def _plate_sealed(self) -> Self:
        if self.record_version == 1:
            for name in _PLATE_SEAL:
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: not part of a version 1 record")
        elif self.plate_text is not None:
            if self.plate_nonce is None:
                raise ValueError("plate_nonce: required with plate_text")
            if self.plate_digest is not None or self.plate_pseudonym is not None:
                raise ValueError("plate_digest: given while plate_text is kept")
        elif self.plate_nonce is not None:
            raise ValueError("plate_nonce: given without plate_text")
        elif (self.plate_digest is None) != (self.plate_pseudonym is None):
            raise ValueError("plate_pseudonym: plate_digest and plate_pseudonym go together")
        return self

    def _has_plate(self) -> bool:
        return self.plate_text is not None or self.plate_pseudonym is not None

    @classmethod
    def _seal_fields(cls, body: dict[str, Any]) -> dict[str, Any]:
        nonce = None if body["plate_text"] is None else secrets.token_hex(16)
        return {"plate_nonce": nonce, "plate_digest": None, "plate_pseudonym": None}

    @classmethod
    def _hashed(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        version_1 = body["record_version"] == 1
        covered = dict(body)
        for name in _UNCOVERED_V1 if version_1 else _UNCOVERED:
            covered.pop(name, None)
        if version_1:
            return covered
        text, nonce = body["plate_text"], body["plate_nonce"]
        kept = text is not None and nonce is not None
        covered["plate_digest"] = plate_commitment(nonce, text) if kept else body["plate_digest"]
        return covered

    def pseudonymised(self, pseudonym: str) -> TransactionRecord:
        """This record with its plate text replaced by ``pseudonym`` (see the module doc).

        The hash is unchanged and still verifies: it covered the commitment that
        becomes ``plate_digest``.
        """
        if self.plate_text is None or self.plate_nonce is None:
            raise ValueError(
                f"transaction {self.id} lane_seq {self.lane_seq}: no committed plate text to "
                f"pseudonymise (record version {self.record_version})"
            )
        return self.model_copy(
            update={
                "plate_text": None,
                "plate_nonce": None,
                "plate_digest": plate_commitment(self.plate_nonce, self.plate_text),
                "plate_pseudonym": pseudonym,
            }
        )


class LaneEventRecord(LaneEvent, SealedRecord):
    """A sealed lane event."""
