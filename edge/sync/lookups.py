"""Remote entry lookups: a highway exit asks central for a plate's entry and waits briefly.

The lane's event loop awaits :meth:`RemoteLookups.ask`, in a task of its own (the
lane keeps serving events meanwhile): a request goes out on the lane's ``lookup``
topic, and central's :class:`~contracts.mqtt.payloads.EntryLookupReply` with the
same ``request_id`` comes back on its ``lookup/reply`` topic. No answer within
``lookup_timeout_s``, or no broker at all, is :attr:`RemoteAnswer.answered` False
at once or at the timeout: the caller prices the exit by the tariff's rule for a
missing entry, as without central.

Replies are read in the sync thread with the contract's reader (the lane's own
plaza and lane, strict schema) and handed to the loop. A reply that is not a
reply, is another lane's, answers no request in flight (late, repeated or never
asked) or names another plate is refused with a log line and a count by reason
(:attr:`RemoteLookups.refused`); nothing else happens.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from contracts.mqtt.payloads import (
    EntryLookup,
    EntryLookupReply,
    PayloadError,
    StoredEntry,
    parse_payload,
)
from plumbing import log

logger = log.get(__name__)

Send = Callable[[bytes], bool]
"""Hands a request to the sync for publishing; False when the lane is not connected."""


@dataclass(frozen=True)
class RemoteAnswer:
    """What came of one request: central's entry (or None), or no answer and why."""

    answered: bool
    entry: StoredEntry | None = None
    why: str = ""


class RemoteLookups:
    """One lane's requests in flight; ``ask`` on the loop, ``take`` from the sync thread."""

    def __init__(
        self,
        plaza_id: str,
        lane_id: str,
        network_id: str | None,
        timeout_s: float,
        loop: asyncio.AbstractEventLoop,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: must be above 0, got {timeout_s}")
        self.plaza_id = plaza_id
        self.lane_id = lane_id
        self.network_id = network_id
        self.timeout_s = timeout_s
        self.loop = loop
        self.clock = clock
        self.send: Send | None = None
        """Set by the sync while it runs (:meth:`edge.sync.SyncService.start`)."""
        self.outcomes: Counter[str] = Counter()
        """Requests by outcome: found, none, timeout, offline."""
        self.refused: Counter[str] = Counter()
        """Replies refused, by reason (a :data:`~contracts.mqtt.payloads.Rejection`,
        ``unknown_request`` or ``wrong_plate``)."""
        self._pending: dict[UUID, tuple[str, asyncio.Future[StoredEntry | None]]] = {}

    @property
    def in_flight(self) -> int:
        """Requests waiting for their answer now."""
        return len(self._pending)

    async def ask(self, plate: str) -> RemoteAnswer:
        """Central's answer for ``plate``, or ``answered`` False within ``timeout_s``."""
        request = EntryLookup(
            plaza_id=self.plaza_id,
            lane_id=self.lane_id,
            request_id=uuid4(),
            plate=plate,
            network_id=self.network_id,
            asked_at=self.clock(),
        )
        future: asyncio.Future[StoredEntry | None] = self.loop.create_future()
        self._pending[request.request_id] = (plate, future)
        try:
            send = self.send
            if send is None or not send(request.to_bytes()):
                return self._unanswered("offline", "not connected to the broker")
            try:
                entry = await asyncio.wait_for(future, self.timeout_s)
            except TimeoutError:
                return self._unanswered("timeout", f"no answer within {self.timeout_s:g} s")
        finally:
            self._pending.pop(request.request_id, None)
        self.outcomes["none" if entry is None else "found"] += 1
        return RemoteAnswer(True, entry)

    def take(self, raw: bytes) -> None:
        """A message of the lane's ``lookup/reply`` topic (sync thread): read, then handed over."""
        try:
            reply = parse_payload(
                EntryLookupReply, raw, plaza_id=self.plaza_id, lane_id=self.lane_id
            )
        except PayloadError as exc:
            self._refuse(exc.reason, str(exc))
            return
        try:
            self.loop.call_soon_threadsafe(self._resolve, reply)
        except RuntimeError:  # the loop has closed: the lane is stopping, nobody waits
            self._refuse("unknown_request", "the lane's loop has stopped")

    def _resolve(self, reply: EntryLookupReply) -> None:
        pending = self._pending.get(reply.request_id)
        if pending is None or pending[1].done():
            self._refuse(
                "unknown_request", f"request_id {reply.request_id}: no such request in flight"
            )
            return
        plate, future = pending
        if reply.plate != plate:
            self._refuse(
                "wrong_plate", f"plate: {reply.plate!r} in the answer to a request for {plate!r}"
            )
            return
        future.set_result(reply.entry)

    def _unanswered(self, outcome: str, why: str) -> RemoteAnswer:
        self.outcomes[outcome] += 1
        logger.warning("entry_lookup_unanswered", outcome=outcome, why=why)
        return RemoteAnswer(False, why=why)

    def _refuse(self, reason: str, error: str) -> None:
        self.refused[reason] += 1
        logger.warning("entry_lookup_reply_refused", reason=reason, error=error[:500])
