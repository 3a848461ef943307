"""The payloads on the MQTT topic tree, one model each, and the one way to read them.

Every payload is a JSON object with ``kind`` (which model) and ``schema_version``
(:data:`SCHEMA_VERSION`); a side refuses a version it does not speak with a
message that says so, rather than guessing. :func:`parse_payload` is the only
reader: it bounds the size, decodes, checks kind and version, validates strictly,
checks that the payload belongs to the lane whose topic it came on, and for
record batches checks every record's hash. Each problem is reported as
``field: what is wrong`` in a :class:`PayloadError`, which ingest logs and counts.

Records travel in batches of consecutive ``lane_seq`` of one stream (the outbox
sends ranges), so that central can store a batch and move its ack in one step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from contracts.canonical import canonical_json
from contracts.ids import Identifier, LaneId, NetworkId, PlazaId, TariffId, Token
from contracts.network import Network
from contracts.records.entries import CLOSES, OPENS
from contracts.records.model import problems
from contracts.records.sealed import LaneEventRecord, TransactionRecord
from contracts.tariff import Tariff
from contracts.time import UtcTime

SCHEMA_VERSION: Literal[1] = 1
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Larger payloads are refused before they are decoded."""
MAX_BATCH = 1000
"""Records in one batch; the outbox sends at most this many per message."""

Stream = Literal["txn", "event"]


Rejection = Literal["too_large", "not_json", "version", "kind", "schema", "wrong_lane", "hash"]
"""Why a payload was refused, as a small vocabulary a metric can carry as a label."""


class PayloadError(ValueError):
    """A payload that cannot be taken; ``problems`` holds one ``field: what`` line each.

    ``reason`` says which check refused it (:data:`Rejection`), so that a reader counts
    refusals by kind without parsing the messages.
    """

    def __init__(self, what: str, problems: list[str], reason: Rejection = "schema") -> None:
        self.what = what
        self.problems = problems
        self.reason: Rejection = reason
        super().__init__(f"invalid {what}: " + "; ".join(problems))


class Payload(BaseModel):
    """Fields every payload carries: its kind and the contract version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    payload_kind: ClassVar[str]

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Payload contract version.")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class LanePayload(Payload):
    """A payload that belongs to one lane: it must match the lane of its topic."""

    plaza_id: PlazaId = Field(description="The plaza of the lane it comes from or goes to.")
    lane_id: LaneId = Field(description="The lane it comes from or goes to.")


R = TypeVar("R", TransactionRecord, LaneEventRecord)


class _Batch(LanePayload, Generic[R]):
    stream: ClassVar[Stream]
    sent_at: UtcTime = Field(description="When the lane sent this batch (UTC).")
    records: tuple[R, ...] = Field(
        min_length=1, max_length=MAX_BATCH, description="Sealed records, consecutive lane_seq."
    )

    @model_validator(mode="after")
    def _consecutive_and_own(self) -> Self:
        records = self.records
        for index, record in enumerate(records):
            if record.lane_id != self.lane_id:
                raise ValueError(
                    f"records.{index}.lane_id: {record.lane_id!r} in a batch of lane "
                    f"{self.lane_id!r}"
                )
            if index and record.lane_seq != records[index - 1].lane_seq + 1:
                raise ValueError(
                    f"records.{index}.lane_seq: {record.lane_seq} does not follow "
                    f"{records[index - 1].lane_seq} (a batch is a run of consecutive lane_seq)"
                )
        return self

    _texts: tuple[tuple[R, ...], tuple[str, ...]] | None = PrivateAttr(None)
    """The records' canonical JSON, kept by :func:`parse_payload` with the records it is of."""

    def canonical_texts(self) -> dict[int, str]:
        """lane_seq → canonical JSON of the records whose text parsing already made.

        Empty unless the batch came from :func:`parse_payload` and its records are still
        the ones parsed (a ``model_copy`` with other records gets none): the store takes
        these instead of serialising each record again, and serialises the rest itself.
        """
        if self._texts is None or self._texts[0] is not self.records:
            return {}
        return {r.lane_seq: text for r, text in zip(self.records, self._texts[1], strict=True)}

    @property
    def first_seq(self) -> int:
        return self.records[0].lane_seq

    @property
    def last_seq(self) -> int:
        return self.records[-1].lane_seq


class TxnBatch(_Batch[TransactionRecord]):
    """Transaction records of one lane, consecutive in ``lane_seq`` (topic ``txn``)."""

    payload_kind: ClassVar[str] = "txn_batch"
    stream: ClassVar[Stream] = "txn"
    kind: Literal["txn_batch"] = "txn_batch"


class EventBatch(_Batch[LaneEventRecord]):
    """Lane events of one lane, consecutive in ``lane_seq`` (topic ``event``)."""

    payload_kind: ClassVar[str] = "event_batch"
    stream: ClassVar[Stream] = "event"
    kind: Literal["event_batch"] = "event_batch"


class Ack(LanePayload):
    """Central has stored every record of ``stream`` up to ``acked_seq`` (topic ``ack``).

    The highest *contiguous* sequence: a lane may forget records up to it and must
    keep (and in time resend) everything after it. A gap central notices is asked
    for with a ``resend`` command, not with this.
    """

    payload_kind: ClassVar[str] = "ack"
    kind: Literal["ack"] = "ack"
    stream: Stream = Field(description="txn or event.")
    acked_seq: int = Field(ge=0, description="Highest contiguous lane_seq stored; 0 for none.")
    at: UtcTime = Field(description="When central stored it (UTC).")


class StreamCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    txn: int = Field(0, ge=0, description="Transaction records.")
    event: int = Field(0, ge=0, description="Lane events.")


class LaneState(LanePayload):
    """The lane's status, retained (topic ``state``); the broker's will says offline.

    The will is this model with ``online`` false and nothing else known, set anew
    before each connection, so central learns of a lane that vanished without a
    word. Its ``at`` is when that connection began (the lane went online), since the
    broker publishes it later, when the lane is gone; its backlog is not known (zero)
    and its mode null, which tells a will from a clean shutdown's offline state.
    """

    payload_kind: ClassVar[str] = "lane_state"
    kind: Literal["lane_state"] = "lane_state"
    online: bool = Field(description="False in the will and in a clean shutdown.")
    at: UtcTime = Field(
        description="When the lane said this (UTC); in the will, when the connection it ends began."
    )
    mode: Identifier | None = Field(None, description="normal, closed, free_passage, ...")
    barrier: Identifier | None = Field(None, description="up, down, moving, fault, unknown.")
    software_version: str | None = Field(None, max_length=40, description="lanewarden version.")
    config_version: int | None = Field(None, ge=1, description="Config bundle version in force.")
    tariffs: dict[TariffId, int] = Field(
        default_factory=dict, description="Tariff id to version in force."
    )
    backlog: StreamCounts = Field(
        default_factory=StreamCounts, description="Records not yet acknowledged by central."
    )


class DayTotal(BaseModel):
    """What a lane recorded on one plaza-local day: for reconciliation with central."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: date = Field(description="The plaza-local day.")
    transactions: int = Field(ge=0, description="Final transaction records of the day.")
    revenue: int = Field(description="Sum of their totals, minor units.")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")


class Telemetry(LanePayload):
    """Health figures every few seconds (topic ``telemetry``, QoS 0)."""

    payload_kind: ClassVar[str] = "telemetry"
    kind: Literal["telemetry"] = "telemetry"
    at: UtcTime = Field(description="When measured (UTC).")
    uptime_s: float = Field(ge=0, description="Seconds since the daemon started.")
    read_rate: float | None = Field(
        None, ge=0, le=1, description="Plates read of vehicles seen, last hour; null if none."
    )
    backlog: StreamCounts = Field(
        default_factory=StreamCounts, description="Records not yet acknowledged by central."
    )
    faults: tuple[Identifier, ...] = Field((), description="Faults standing now.")
    versions: dict[Identifier, Annotated[str, Field(max_length=40)]] = Field(
        default_factory=dict, description="Software and model versions."
    )
    totals: tuple[DayTotal, ...] = Field(
        (), max_length=7, description="Per-day totals, newest last (today and recent days)."
    )


PlateText = Annotated[str, Field(min_length=1, max_length=20, pattern=r"\S")]
"""A plate as a record carries it (``Transaction.plate_text``)."""


class EntryLookup(LanePayload):
    """A highway exit asks central for a plate's open entry (topic ``lookup``).

    The lane found no entry of its own and waits a short while for the
    :class:`EntryLookupReply` with the same ``request_id``; without one it prices
    the exit by the tariff's rule for a missing entry. ``network_id`` is the
    closed system the lane's plaza belongs to, for central's log: central answers
    from every plaza it stores (one central serves one network).
    """

    payload_kind: ClassVar[str] = "entry_lookup"
    kind: Literal["entry_lookup"] = "entry_lookup"
    request_id: UUID = Field(description="Chosen by the lane; the reply carries it back.")
    plate: PlateText = Field(description="The plate read (or typed) at the exit.")
    network_id: NetworkId | None = Field(None, description="The lane's network, when it has one.")
    asked_at: UtcTime = Field(description="When the lane asked (UTC).")


class StoredEntry(BaseModel):
    """The entry central holds for a plate: the record an exit closes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    txn_id: UUID = Field(description="The entry transaction's id.")
    plaza_id: PlazaId = Field(description="Plaza of entry.")
    lane_id: LaneId = Field(description="Lane of entry.")
    entry_time: UtcTime = Field(description="When the vehicle entered (UTC).")
    vehicle_class: int | None = Field(None, ge=1, le=99, description="Class recorded at entry.")


class EntryLookupReply(LanePayload):
    """Central's answer to one :class:`EntryLookup`, to the lane that asked (``lookup/reply``).

    ``plaza_id``/``lane_id`` are the asking lane's; ``entry`` is null when central
    holds no open entry of the plate (:mod:`contracts.records.entries`).
    """

    payload_kind: ClassVar[str] = "entry_lookup_reply"
    kind: Literal["entry_lookup_reply"] = "entry_lookup_reply"
    request_id: UUID = Field(description="The request answered.")
    plate: PlateText = Field(description="The plate asked about, as asked.")
    entry: StoredEntry | None = Field(description="The plate's open entry; null for none.")
    answered_at: UtcTime = Field(description="When central answered (UTC).")


class EntryNotice(LanePayload):
    """Entries and exits of the site's other lanes, for this lane's open entries (``entries``).

    Central republishes each stored record that opens or closes an entry
    (:mod:`contracts.records.entries`) to the other lanes of its plaza, so that a
    parking exit finds an entry taken at another entry lane of the site.
    ``plaza_id``/``lane_id`` are the receiving lane's; each record is sealed as its
    own lane sealed it, and its hash is checked on reading.
    """

    payload_kind: ClassVar[str] = "entry_notice"
    kind: Literal["entry_notice"] = "entry_notice"
    records: tuple[TransactionRecord, ...] = Field(
        min_length=1, max_length=MAX_BATCH, description="Passed entries and exits, in order."
    )

    @model_validator(mode="after")
    def _of_entries(self) -> Self:
        for index, record in enumerate(self.records):
            if (record.kind, record.status) not in (OPENS, CLOSES):
                raise ValueError(
                    f"records.{index}: a {record.status} {record.kind} opens or closes no entry"
                )
            if record.lane_id == self.lane_id:
                raise ValueError(f"records.{index}.lane_id: the lane's own record, sent back")
        return self


class ListItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plate: str = Field(min_length=2, max_length=16, description="Plate text.")
    valid_from: UtcTime | None = Field(None, description="Start of validity, when limited.")
    valid_until: UtcTime | None = Field(None, description="End of validity, when limited.")
    note: str = Field("", max_length=200, description="Why the plate is listed.")


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: Token = Field(description="The account's id.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    balance: int = Field(description="Balance in minor units.")
    plates: tuple[str, ...] = Field((), description="Plates charged to the account.")


class ConfigBundle(Payload):
    """Versioned configuration for lanes, retained (topics ``{plaza}/config``, ``config``).

    A lane applies a bundle whole or not at all, keeps it in its store, and reports
    the version in force in its state. ``plaza_id`` is null on the network topic.
    ``lanes`` names the lanes it is for (empty: all that read the topic). Tariffs
    and the network are the file schemas of :mod:`contracts.tariff` and
    :mod:`contracts.network`, so a bundle that parses holds tariffs a lane can load.
    """

    payload_kind: ClassVar[str] = "config"
    kind: Literal["config"] = "config"
    plaza_id: PlazaId | None = Field(None, description="The plaza; null for the network.")
    version: int = Field(ge=1, description="Increases with every bundle published.")
    issued_at: UtcTime = Field(description="When central published it (UTC).")
    lanes: tuple[LaneId, ...] = Field((), description="Lanes it is for; empty for all.")
    tariffs: tuple[Tariff, ...] = Field((), description="Tariffs, whole, as in tariff files.")
    network: Network | None = Field(None, description="Highway network; null: unchanged.")
    permits: tuple[ListItem, ...] | None = Field(None, description="Permit list; null: unchanged.")
    whitelist: tuple[ListItem, ...] | None = Field(None, description="Whitelist; null: unchanged.")
    blacklist: tuple[ListItem, ...] | None = Field(None, description="Blacklist; null: unchanged.")
    accounts: tuple[Account, ...] | None = Field(None, description="Accounts; null: unchanged.")


P = TypeVar("P", bound=Payload)


def parse_payload(
    model: type[P],
    raw: bytes | str,
    *,
    plaza_id: str | None = None,
    lane_id: str | None = None,
    limit: int = MAX_PAYLOAD_BYTES,
) -> P:
    """Read one payload of ``model`` from the lane a topic named; :class:`PayloadError`.

    ``plaza_id`` / ``lane_id``, when given, are the topic's: a payload naming another
    lane is refused (a lane may not speak for another). Record batches have every
    record's hash checked.
    """
    what = model.payload_kind
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > limit:
        raise PayloadError(what, [f"payload: {size} bytes, over the limit of {limit}"], "too_large")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(what, [f"payload: not JSON ({exc})"], "not_json") from None
    if not isinstance(data, dict):
        raise PayloadError(what, [f"payload: not a JSON object but {type(data).__name__}"])
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise PayloadError(
            what,
            [f"schema_version: this side speaks {SCHEMA_VERSION}, got {version!r}"],
            "version",
        )
    if data.get("kind") != what:
        raise PayloadError(what, [f"kind: expected {what!r}, got {data.get('kind')!r}"], "kind")
    try:
        payload = model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise PayloadError(what, problems(exc)) from None
    wrong = [
        f"{name}: {getattr(payload, name)!r} on the topic of {expected!r}"
        for name, expected in (("plaza_id", plaza_id), ("lane_id", lane_id))
        if expected is not None and getattr(payload, name, expected) != expected
    ]
    if wrong:
        raise PayloadError(what, wrong, "wrong_lane")
    if isinstance(payload, _Batch | EntryNotice):
        bodies, bad = _checked_bodies(payload.records, data["records"])
        if bad:
            raise PayloadError(what, bad, "hash")
        if isinstance(payload, _Batch):
            payload._texts = (payload.records, tuple(canonical_json(body) for body in bodies))
    return payload


def _checked_bodies(
    records: Sequence[TransactionRecord | LaneEventRecord], sent: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each record's canonical values with its hash checked, and a line per record that fails.

    The values as sent (``sent``, the payload's decoded records) are tried first. A
    lane sends its records in canonical form, and values that hash to the record's
    hash are, byte for byte, the canonical values the lane sealed (the hash covers
    every field but the plate text and nonce, and those through their commitment;
    the pseudonym it does not cover is validated as sent), provided every field was
    sent (extra fields are refused, so the count says it): a field left out to its
    default would hash alike when the hash does not cover it. They are what
    ``record.canonical()`` would give again, so that ``model_dump`` per record (the
    largest cost of reading a batch after validation) is saved. Values that do not
    hash (a record sent in another form: an offset time, unsorted flags, a default
    left out) are dumped from the validated record and checked again: the check
    itself is unchanged.
    """
    bodies: list[dict[str, Any]] = []
    bad: list[str] = []
    for index, (record, values) in enumerate(zip(records, sent, strict=True)):
        try:
            # Every field sent (a default left out is a key canonical JSON has) and hashing.
            if len(values) == len(type(record).model_fields) and record.hash == record.hash_of(
                values
            ):
                bodies.append(values)
                continue
        except (KeyError, TypeError, ValueError):  # values missing or not JSON: dump the record
            pass
        body = record.canonical()
        if record.hash != record.hash_of(body):
            bad.append(
                f"records.{index}.hash: does not match the record's content "
                f"(lane_seq {record.lane_seq})"
            )
        bodies.append(body)
    return bodies, bad
