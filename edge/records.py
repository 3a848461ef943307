"""The transaction record and lane event contracts, shared by the edge store and central.

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
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self, cast
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

RECORD_VERSION: Literal[2] = 2
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of a lane's first record of a stream."""

JsonValue = str | int | float | bool | None | list[Any] | dict[str, Any]


class RecordError(ValueError):
    """A record is invalid; ``problems`` holds one ``field: what is wrong`` line per fault."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid {what}: " + "; ".join(problems))


def uuid7(at: datetime | None = None) -> UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 74 random bits.

    Ids sort by creation time to the millisecond, which keeps SQLite's id index
    append-mostly. ``at`` fixes the time part (for replays and tests).
    """
    moment = at if at is not None else datetime.now(UTC)
    millis = int(moment.timestamp() * 1000) & ((1 << 48) - 1)
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return UUID(int=value)


def utc_text(moment: datetime) -> str:
    """The canonical text of an aware time: UTC, microseconds, ``Z``; fixed width."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


# One encoder for every call: json.dumps with options builds a new encoder each time,
# which costs more than encoding a record.
_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: JsonValue) -> str:
    """Sorted keys, no whitespace, non-ASCII kept, NaN and infinities refused."""
    return _CANONICAL_ENCODER.encode(value)


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _is_v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError(f"must be a UUIDv7, got version {value.version}")
    return value


def _sorted_unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


UtcTime = Annotated[
    AwareDatetime, AfterValidator(_to_utc), PlainSerializer(utc_text, return_type=str)
]
RecordId = Annotated[UUID, AfterValidator(_is_v7)]
LaneId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
"""The lane id pattern of the lane configuration (used in MQTT topics)."""
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Token = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S+$")]
TariffId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
"""The tariff id pattern of the tariff files."""
HashHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

# The vocabularies of a transaction. The lane machine decides in these words
# (edge.lane imports them from here); the wire and the store keep their values.


class TxnKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    PASSAGE = "passage"


class TxnStatus(StrEnum):
    """Where a passage stands. The last three are final."""

    ARRIVED = "arrived"  # detected on the arming loop, nothing decided yet
    PENDING_PAYMENT = "pending_payment"  # a charge was decided and requested
    AUTHORISED = "authorised"  # the barrier may open (see ``authorisation``)
    BLOCKED = "blocked"  # authorised, but the barrier is in fault
    DENIED = "denied"  # refused or undecidable: waiting for an operator
    PASSED = "passed"
    VOIDED = "voided"  # left backwards without passing: no charge
    UNAUTHORISED = "unauthorised"  # went through without authorisation (tailgate, forced)


FINAL_STATUSES = frozenset({TxnStatus.PASSED, TxnStatus.VOIDED, TxnStatus.UNAUTHORISED})


class Authorisation(StrEnum):
    """Why a barrier may open for a vehicle (the safety rules allow nothing else)."""

    PAID = "paid"  # payment approved
    RULE = "rule"  # entry lane, whitelist, permit, zero fee, or unreadable plate admitted by policy
    OPERATOR = "operator"  # operator command; operator id and reason are on the record
    FAIL_OPEN = "fail_open"  # the lane could not decide and policy.fail_open is set
    FREE_PASSAGE = "free_passage"  # the lane is in free-passage mode


class Listing(StrEnum):
    """How the lane's lists know a plate."""

    NONE = "none"
    PERMIT = "permit"
    WHITELIST = "whitelist"
    BLACKLIST = "blacklist"
    PREPAID = "prepaid"


class PaymentMethod(StrEnum):
    TERMINAL = "terminal"  # card, QR or ETC at the lane's payment terminal
    ACCOUNT = "account"  # debit of the plate's prepaid account


class PaymentStatus(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"  # the terminal or gateway could not answer within the allowed tries
    REFUNDED = "refunded"


Severity = Literal["info", "warning", "alarm"]
DetailValue = str | int | float | bool | None


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return lines


class _Model(BaseModel):
    # Vocabulary fields hold their plain string values, so that records built from
    # stored rows (model_construct) and validated ones compare and serialise alike.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)
    what: ClassVar[str] = "record"

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """Construct and validate, raising :class:`RecordError` that names each bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise RecordError(cls.what, _problems(exc)) from None

    def canonical(self) -> dict[str, Any]:
        """Every field as JSON values in canonical form."""
        return self.model_dump(mode="json")


class FeeItem(BaseModel):
    """One line of an itemised fee."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(min_length=1, max_length=80, description="What the amount is for.")
    amount: int = Field(description="Minor units; negative for a discount.")


class Transaction(_Model):
    """What a lane decided about one vehicle, before the store seals it.

    A transaction is recorded again at every decision (arrived, priced, paid,
    passed); each version is its own record with the same ``id`` and its own
    ``lane_seq``, and the latest version is the truth.
    """

    what: ClassVar[str] = "transaction record"

    id: RecordId = Field(default_factory=uuid7, description="UUIDv7 of the transaction.")
    lane_id: LaneId = Field(description="The lane that recorded it.")
    kind: TxnKind = Field(description="entry, exit or passage (open plaza).")
    status: TxnStatus = Field(description="Where the passage stands.")
    authorisation: Authorisation | None = Field(None, description="Why the barrier may open.")
    recorded_at: UtcTime = Field(description="When the lane decided this version (UTC).")
    plate_text: str | None = Field(
        None, min_length=1, max_length=20, description="Plate as read; null when unreadable."
    )
    plate_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Recogniser confidence of plate_text, 0..1."
    )
    vehicle_class: int | None = Field(None, ge=1, le=99, description="Tariff vehicle class.")
    listing: Listing | None = Field(None, description="How the lists know the plate.")
    entry_time: UtcTime | None = Field(None, description="Entry time (UTC), when known.")
    exit_time: UtcTime | None = Field(None, description="Exit or passage time (UTC).")
    entry_plaza: LaneId | None = Field(None, description="Plaza of entry (closed highway).")
    entry_txn_id: UUID | None = Field(None, description="The entry transaction an exit matched.")
    tariff_id: TariffId | None = Field(None, description="Tariff that priced it.")
    tariff_version: int | None = Field(None, ge=1, description="Version of that tariff.")
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the amounts."
    )
    fee_items: tuple[FeeItem, ...] = Field((), description="Itemised fee.")
    fee_total: int | None = Field(
        None, description="Sum of fee_items in minor units; null until priced."
    )
    payment_method: PaymentMethod | None = Field(None, description="How it is paid.")
    payment_status: PaymentStatus = Field(PaymentStatus.NONE, description="Outcome of the payment.")
    gateway_ref: Token | None = Field(None, description="Payment gateway's reference.")
    evidence_image_ids: tuple[Token, ...] = Field((), description="Images kept as evidence.")
    operator_id: Token | None = Field(None, description="Operator of a manual action.")
    operator_reason: str | None = Field(
        None, min_length=1, max_length=500, description="Why the operator acted."
    )
    references: UUID | None = Field(
        None, description="Id of the original transaction, for a refund or correction."
    )
    flags: Annotated[tuple[Identifier, ...], AfterValidator(_sorted_unique)] = Field(
        (), description="Reasons for review, such as tailgate or unreadable_plate; sorted."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.fee_total is None:
            if self.fee_items:
                raise ValueError("fee_total: required when fee_items are given")
        else:
            items_sum = sum(item.amount for item in self.fee_items)
            if self.fee_total != items_sum:
                raise ValueError(
                    f"fee_total: must equal the sum of fee_items ({items_sum}), "
                    f"got {self.fee_total}"
                )
            if self.currency is None:
                raise ValueError("currency: required when fee_total is given")
            if self.fee_total < 0 and self.references is None:
                raise ValueError("fee_total: negative only for a refund (which sets references)")
        if (self.tariff_id is None) != (self.tariff_version is None):
            raise ValueError("tariff_version: tariff_id and tariff_version go together")
        if self.plate_confidence is not None and not self._has_plate():
            raise ValueError("plate_confidence: given without plate_text")
        if self.operator_reason is not None and self.operator_id is None:
            raise ValueError("operator_reason: given without operator_id")
        if self.entry_time and self.exit_time and self.exit_time < self.entry_time:
            raise ValueError("exit_time: earlier than entry_time")
        return self

    def _has_plate(self) -> bool:
        """Whether a plate was read (its text may since have been pseudonymised)."""
        return self.plate_text is not None


class LaneEvent(_Model):
    """Something that happened on a lane (an alarm, a mode change), before sealing."""

    what: ClassVar[str] = "lane event"

    id: RecordId = Field(default_factory=uuid7, description="UUIDv7, made by the lane.")
    lane_id: LaneId = Field(description="The lane it happened on.")
    time: UtcTime = Field(description="When it happened (UTC).")
    kind: Identifier = Field(description="What happened, e.g. tailgate, loop_stuck, mode_changed.")
    severity: Severity = Field(description="info, warning or alarm.")
    txn_id: UUID | None = Field(None, description="The transaction it concerns, if any.")
    operator_id: Token | None = Field(None, description="Operator who caused it, if any.")
    detail: dict[Identifier, DetailValue] = Field(
        default_factory=dict, description="Further facts, flat."
    )


def _hash_of(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def plate_commitment(nonce: str, text: str) -> str:
    """SHA-256 of the nonce's bytes and the exact plate text: what the hash covers of it."""
    return hashlib.sha256(bytes.fromhex(nonce) + text.encode()).hexdigest()


class SealedRecord(_Model):
    """Fields and behaviour that every sealed (sequenced, chained) record shares."""

    lane_seq: int = Field(ge=1, description="Per-lane sequence of this stream, no gaps.")
    prev_hash: HashHex = Field(description="hash of the lane's previous record (or zeros).")
    hash: HashHex = Field(description="SHA-256 over every other field, prev_hash included.")
    record_version: Literal[1, 2] = Field(
        RECORD_VERSION, description="Contract version (RECORD_VERSION)."
    )

    @classmethod
    def seal(cls, content: _Model, lane_seq: int, prev_hash: str) -> tuple[Self, dict[str, Any]]:
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
        body["hash"] = _hash_of(cls._hashed(body))
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
    def _hashed(cls, body: dict[str, Any]) -> dict[str, Any]:
        """What the hash covers of a record's canonical values (``hash`` excluded)."""
        return body

    def computed_hash(self) -> str:
        """The hash this record's content should carry."""
        body = self.canonical()
        del body["hash"]
        return _hash_of(self._hashed(body))

    def to_json(self) -> str:
        return canonical_json(self.canonical())

    @classmethod
    def from_json(cls, data: str | bytes, *, check_hash: bool = True) -> Self:
        """Parse a record strictly (no type coercion) and, by default, check its hash."""
        try:
            record = cls.model_validate_json(data, strict=True)
        except ValidationError as exc:
            raise RecordError(cls.what, _problems(exc)) from None
        if check_hash and record.hash != record.computed_hash():
            raise RecordError(cls.what, ["hash: does not match the record's content"])
        return record

    @classmethod
    def from_canonical(cls, values: Mapping[str, Any], *, check_hash: bool = True) -> Self:
        """Parse canonical JSON values (e.g. a stored row with its JSON columns decoded)."""
        return cls.from_json(canonical_json(dict(values)), check_hash=check_hash)


_PLATE_SEAL = ("plate_nonce", "plate_digest", "plate_pseudonym")


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
    def _hashed(cls, body: dict[str, Any]) -> dict[str, Any]:
        if body["record_version"] == 1:
            return {k: v for k, v in body.items() if k not in _PLATE_SEAL}
        covered = {k: v for k, v in body.items() if k not in ("plate_text", *_PLATE_SEAL)}
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
