"""One message in, what it means for the store, and what to publish back.

:class:`Ingest` takes a topic and its payload, reads it with the contract's reader
(:func:`contracts.mqtt.payloads.parse_payload`, with the topic's plaza and lane so a
lane cannot speak for another), stores it, and returns the messages to publish: the
lane's ack after a record batch (and the batch's entries and exits for the plaza's
other lanes, each on its own ``entries`` topic), the answer to a remote entry lookup
(to the lane that asked, on its own ``lookup/reply`` topic), nothing otherwise. It does no MQTT itself, so the
worker stays a thin shell and tests drive this directly.

A message that cannot be taken is refused with one log line and one count by
reason; nothing of it is stored and the worker goes on with the next.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from pydantic import ValidationError

from central.ingest.gaps import GapTracker
from central.ingest.metrics import IngestMetrics
from central.ingest.resent import claimed, seq_span
from contracts.commands import CommandResult
from contracts.mqtt.payloads import (
    MAX_PAYLOAD_BYTES,
    Ack,
    EntryLookup,
    EntryLookupReply,
    EntryNotice,
    EventBatch,
    LaneState,
    PayloadError,
    StoredEntry,
    Stream,
    Telemetry,
    TxnBatch,
    parse_payload,
)
from contracts.mqtt.topics import SPECS, LaneAddress, LaneTopic, TopicError, lane_topic
from contracts.mqtt.topics import parse_lane_topic as read_topic
from contracts.records.entries import changes_entries
from contracts.records.model import problems as validation_problems
from plumbing import log

logger = log.get(__name__)


class Outcome(Protocol):
    """What storing one batch did (``central.storage.BatchOutcome``)."""

    @property
    def stored(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def conflicts(self) -> tuple[int, ...]: ...
    @property
    def acked_seq(self) -> int: ...
    @property
    def gap_from(self) -> int | None: ...
    @property
    def chain_breaks(self) -> tuple[int, ...]: ...


class IngestStore(Protocol):
    """The part of ``central.storage.CentralStore`` that ingest uses."""

    def store_batch(
        self, plaza_id: str, batch: TxnBatch | EventBatch, received_at: datetime
    ) -> Outcome: ...
    def held_resend(
        self, lane_id: str, stream: Stream, claimed: Sequence[tuple[int, str]]
    ) -> Outcome | None: ...
    def acked_seq(self, lane_id: str, stream: Stream) -> int: ...
    def note_state(self, state: LaneState, received_at: datetime) -> None: ...
    def note_telemetry(self, telemetry: Telemetry, received_at: datetime) -> None: ...
    def note_result(
        self, plaza_id: str, lane_id: str, result: CommandResult, received_at: datetime
    ) -> bool: ...
    def open_entry(self, plate: str) -> StoredEntry | None: ...
    def site_lanes(self, plaza_id: str) -> list[str]: ...


@dataclass(frozen=True)
class Outgoing:
    """A message to publish."""

    topic: str
    payload: bytes
    qos: int


class RejectedError(Exception):
    """A message refused: ``reason`` is the metric's label, ``problems`` the log's detail."""

    def __init__(self, reason: str, problems: list[str]) -> None:
        super().__init__(f"{reason}: " + "; ".join(problems))
        self.reason = reason
        self.problems = problems


P = TypeVar("P", TxnBatch, EventBatch, LaneState, Telemetry, EntryLookup)
B = TypeVar("B", TxnBatch, EventBatch)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ingest:
    """Handles every message a worker receives; shared by the workers of one process."""

    def __init__(
        self,
        store: IngestStore,
        metrics: IngestMetrics,
        gaps: GapTracker,
        *,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        limit: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.gaps = gaps
        self._clock = clock
        self._monotonic = monotonic
        self._limit = limit

    def handle(self, topic: str, payload: bytes) -> list[Outgoing]:
        """Take one message; the messages to publish in answer (empty when refused)."""
        try:
            return self._take(topic, payload)
        except RejectedError as exc:
            self.metrics.rejected.labels(reason=exc.reason).inc()
            logger.warning(
                "payload_rejected",
                reason=exc.reason,
                topic=topic[:200],
                size=len(payload),
                problems=exc.problems[:5],
            )
            return []

    def _take(self, topic: str, payload: bytes) -> list[Outgoing]:
        try:
            address = read_topic(topic)
        except TopicError as exc:
            raise RejectedError("unknown_topic", [str(exc)]) from None
        kind = address.kind
        now = self._clock()
        if kind is LaneTopic.TXN:
            return self._records(address, TxnBatch, payload, now)
        if kind is LaneTopic.EVENT:
            return self._records(address, EventBatch, payload, now)
        if kind is LaneTopic.STATE:
            self.store.note_state(self._read(LaneState, address, payload), now)
        elif kind is LaneTopic.TELEMETRY:
            telemetry = self._read(Telemetry, address, payload)
            self.store.note_telemetry(telemetry, now)
            self.metrics.backlog_reported(address.lane_id, telemetry.backlog)
        elif kind is LaneTopic.CMD_RESULT:
            self._result(address, payload, now)
        elif kind is LaneTopic.LOOKUP:
            return self._lookup(address, self._read(EntryLookup, address, payload), now)
        else:
            raise RejectedError("unknown_topic", [f"topic {topic!r}: central does not take {kind}"])
        return []

    def _read(self, model: type[P], address: LaneAddress, payload: bytes) -> P:
        try:
            taken = parse_payload(
                model,
                payload,
                plaza_id=address.plaza_id,
                lane_id=address.lane_id,
                limit=self._limit,
            )
        except PayloadError as exc:
            raise RejectedError(exc.reason, exc.problems) from None
        self.metrics.heard(address.lane_id, self._clock())
        return taken

    def _records(
        self, address: LaneAddress, model: type[B], payload: bytes, now: datetime
    ) -> list[Outgoing]:
        """A record batch: answered at once when it only repeats held records, else stored."""
        resent = self._resent(address, model, payload)
        if resent is not None:
            outcome, last_seq = resent
            self.metrics.heard(address.lane_id, now)
            return self._answer(address, model.stream, outcome, last_seq=last_seq, now=now)
        return self._batch(address, self._read(model, address, payload), now)

    def _resent(
        self, address: LaneAddress, model: type[TxnBatch] | type[EventBatch], payload: bytes
    ) -> tuple[Outcome, int] | None:
        """A batch that only repeats held records: its outcome and last lane_seq; else None.

        See :mod:`central.ingest.resent`. The ack is read first (one indexed row), so a
        fresh batch, whose records lie beyond it, costs a byte search and that read.
        """
        if len(payload) > self._limit:
            return None
        span = seq_span(payload)
        if span is None or span[1] > self.store.acked_seq(address.lane_id, model.stream):
            return None
        records = claimed(payload, model, address.plaza_id, address.lane_id)
        if records is None:
            return None
        outcome = self.store.held_resend(address.lane_id, model.stream, records)
        return None if outcome is None else (outcome, records[-1][0])

    def _batch(
        self, address: LaneAddress, batch: TxnBatch | EventBatch, now: datetime
    ) -> list[Outgoing]:
        stream = batch.stream
        outcome = self.store.store_batch(address.plaza_id, batch, now)
        last_at = (
            batch.records[-1].recorded_at if isinstance(batch, TxnBatch) else batch.records[-1].time
        )
        self.metrics.batch_stored(address.lane_id, stream, (now - last_at).total_seconds())
        answers = self._answer(address, stream, outcome, last_seq=batch.last_seq, now=now)
        if isinstance(batch, TxnBatch):
            answers += self._replicate(address, batch)
        return answers

    def _answer(
        self,
        address: LaneAddress,
        stream: Stream,
        outcome: Outcome,
        *,
        last_seq: int,
        now: datetime,
    ) -> list[Outgoing]:
        """Count what storing a batch did, note its gap, and the lane's ack to publish."""
        metrics = self.metrics
        metrics.stored.labels(stream=stream).inc(outcome.stored)
        metrics.duplicates.labels(stream=stream).inc(outcome.duplicates)
        metrics.conflicts.labels(stream=stream).inc(len(outcome.conflicts))
        metrics.chain_breaks.labels(stream=stream).inc(len(outcome.chain_breaks))
        if outcome.conflicts or outcome.chain_breaks:
            logger.warning(
                "records_suspect",
                lane_id=address.lane_id,
                stream=stream,
                conflicts=list(outcome.conflicts[:10]),
                chain_breaks=list(outcome.chain_breaks[:10]),
            )
        self.gaps.note(
            address.plaza_id,
            address.lane_id,
            stream,
            gap_from=outcome.gap_from,
            last_seq=last_seq,
            now=self._monotonic(),
        )
        ack = Ack(
            plaza_id=address.plaza_id,
            lane_id=address.lane_id,
            stream=stream,
            acked_seq=outcome.acked_seq,
            at=now,
        )
        metrics.acks.inc()
        topic = lane_topic(address.plaza_id, address.lane_id, LaneTopic.ACK)
        return [Outgoing(topic, ack.to_bytes(), SPECS[LaneTopic.ACK].qos)]

    def _replicate(self, address: LaneAddress, batch: TxnBatch) -> list[Outgoing]:
        """The batch's entries and exits, to the plaza's other lanes (each on its own topic).

        Sent again with a resend that stores something: a lane takes the same entry twice
        as once. A resend of records all held already is answered with its ack alone.
        """
        records = tuple(r for r in batch.records if changes_entries(r))
        if not records:
            return []
        lanes = [lane for lane in self.store.site_lanes(address.plaza_id) if lane != batch.lane_id]
        out = []
        for lane in lanes:
            notice = EntryNotice(plaza_id=address.plaza_id, lane_id=lane, records=records)
            topic = lane_topic(address.plaza_id, lane, LaneTopic.ENTRIES)
            out.append(Outgoing(topic, notice.to_bytes(), SPECS[LaneTopic.ENTRIES].qos))
        self.metrics.entries_replicated.inc(len(records) * len(lanes))
        return out

    def _lookup(self, address: LaneAddress, asked: EntryLookup, now: datetime) -> list[Outgoing]:
        """A highway exit asks for a plate's open entry: answered to that lane alone."""
        started = self._monotonic()
        entry = self.store.open_entry(asked.plate)
        reply = EntryLookupReply(
            plaza_id=address.plaza_id,
            lane_id=address.lane_id,
            request_id=asked.request_id,
            plate=asked.plate,
            entry=entry,
            answered_at=now,
        )
        self.metrics.lookups.labels(outcome="none" if entry is None else "found").inc()
        self.metrics.lookup_seconds.observe(self._monotonic() - started)
        logger.info(
            "entry_lookup_answered",
            lane_id=address.lane_id,
            request_id=str(asked.request_id),
            network_id=asked.network_id,
            found=entry is not None,
            entry_txn_id=str(entry.txn_id) if entry is not None else None,
        )
        topic = lane_topic(address.plaza_id, address.lane_id, LaneTopic.LOOKUP_REPLY)
        return [Outgoing(topic, reply.to_bytes(), SPECS[LaneTopic.LOOKUP_REPLY].qos)]

    def _result(self, address: LaneAddress, payload: bytes, now: datetime) -> None:
        """A lane's answer to a command: checked, stored (the console reads it) and logged."""
        if len(payload) > self._limit:
            raise RejectedError(
                "too_large", [f"payload: {len(payload)} bytes, over the limit of {self._limit}"]
            )
        try:
            json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RejectedError("not_json", [f"payload: not JSON ({exc})"]) from None
        try:
            result = CommandResult.model_validate_json(payload, strict=True)
        except ValidationError as exc:
            raise RejectedError("schema", validation_problems(exc)) from None
        self.metrics.heard(address.lane_id, now)
        kept = self.store.note_result(address.plaza_id, address.lane_id, result, now)
        if kept:
            self.metrics.command_results.labels(outcome="ok" if result.ok else "failed").inc()
        logger.info(
            "command_result" if kept else "command_result_repeated",
            lane_id=address.lane_id,
            command_id=result.command_id,
            ok=result.ok,
            error=result.error,
        )
